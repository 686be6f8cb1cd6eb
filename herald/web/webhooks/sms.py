"""The SMS provider's webhooks: delivery status callbacks and inbound messages (STOP keywords).

Both are signed by the provider (``X-Twilio-Signature``, checked against the public URL it
called and the URL the request reached); an unsigned or forged request gets 403 and changes
nothing. The work is in :mod:`herald.channels.sms_feedback`.
"""

from __future__ import annotations

from typing import Any
from xml.sax.saxutils import escape

from flask import Blueprint, Response, jsonify, request

from herald.campaigns import sms_feedback as sms_records
from herald.channels import sms_feedback
from herald.web import deps

bp = Blueprint("webhooks_sms", __name__, url_prefix="/webhooks/sms")

STOP_REPLY = "You are unsubscribed and will get no more messages from us. 已退订。"


def _signed_params() -> dict[str, str] | None:
    """The POST parameters of a genuinely signed request, else None."""
    settings = deps.settings()
    params = request.form.to_dict()
    path = request.full_path.rstrip("?")
    urls = [f"{settings.public_url}{path}", request.url]
    given = request.headers.get("X-Twilio-Signature")
    if not sms_feedback.valid_signature(settings.sms_auth_token, urls, params, given):
        return None
    return params


def _forbidden() -> tuple[Response, int]:
    body = {"code": "forbidden", "message": "missing or invalid X-Twilio-Signature", "fields": {}}
    return jsonify(error=body), 403


def _twiml(message: str | None = None) -> Response:
    inner = f"<Message>{escape(message)}</Message>" if message else ""
    xml = f'<?xml version="1.0" encoding="UTF-8"?><Response>{inner}</Response>'
    return Response(xml, status=200, mimetype="text/xml")


@bp.post("/status")
def status() -> Any:
    """A message's delivery status: ``sms.delivered`` / ``sms.failed`` on its delivery."""
    params = _signed_params()
    if params is None:
        return _forbidden()
    session = deps.session()
    sms_records.record_status(session, params)
    session.commit()
    return Response(status=204)


@bp.post("/inbound")
def inbound() -> Any:
    """A member's text to us: STOP (and its variants, 退订, 取消) revokes SMS consent at once."""
    params = _signed_params()
    if params is None:
        return _forbidden()
    if not sms_feedback.is_stop(params.get("Body")):
        return _twiml()
    phone = sms_feedback.e164(params.get("From"), deps.settings().default_phone_region)
    if phone is None:
        return _twiml()
    session = deps.session()
    sms_records.opt_out(session, phone)
    session.commit()
    return _twiml(STOP_REPLY)
