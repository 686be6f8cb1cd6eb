"""``POST /webhooks/email/events``: bounces and complaints from the mail provider.

Signed with the Standard Webhooks scheme (headers ``webhook-id``, ``webhook-timestamp``,
``webhook-signature: v1,<base64 HMAC-SHA256 of "{id}.{timestamp}.{body}">``) using
``HERALD_EMAIL_EVENTS_SECRET`` (``whsec_…``), or ``HERALD_SHOP_WEBHOOK_SECRET`` when that is unset.

JSON body::

    {"events": [{"type": "bounce" | "complaint", "email": "someone@example.com",
                 "message_id": "<42.7.herald…@shop.com>", "kind": "hard" | "soft",
                 "reason": "550 5.1.1 user unknown"}]}

``message_id`` (the Message-ID Herald sent) ties the event to its delivery; ``email`` alone
ties it to the member. A raw DSN (``Content-Type: message/rfc822`` or ``multipart/report``) is
accepted at the same URL. Answers ``200 {"accepted", "unmatched"}`` (the same ``webhook-id``
again: ``200`` with ``"duplicate": true`` and no second effect), ``401`` for a bad or missing
signature or a timestamp more than 5 minutes off, ``400`` unparseable, ``422`` invalid events.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import IntegrityError

from herald.campaigns import feedback
from herald.channels.dsn import NotAReport, parse_dsn
from herald.web import deps
from herald.web.webhooks import common

blueprint = Blueprint("email_events", __name__)

SOURCE = "email"
MAX_EVENTS = 1000


def _error(status: int, code: str, message: str, fields: dict[str, str] | None = None) -> Any:
    return jsonify(error={"code": code, "message": message, "fields": fields or {}}), status


def events_secret() -> str | None:
    """The signing secret: ``HERALD_EMAIL_EVENTS_SECRET``, else the shop webhook secret."""
    settings = deps.settings()
    own = (settings.extra.get("HERALD_EMAIL_EVENTS_SECRET") or "").strip()
    return own or settings.shop_webhook_secret


def _without_nul(report: dict[str, Any]) -> dict[str, Any]:
    """A DSN's texts without NUL characters, which the database refuses."""
    return {k: v.replace("\x00", "") if isinstance(v, str) else v for k, v in report.items()}


def _reports(body: bytes) -> list[dict[str, Any]] | tuple[Any, ...]:
    """The body as report dicts, or an error response."""
    mimetype = (request.mimetype or "").lower()
    if mimetype in ("message/rfc822", "multipart/report"):
        try:
            return [_without_nul(report.__dict__) for report in parse_dsn(body)]
        except NotAReport as exc:
            return _error(422, "invalid", str(exc))
    try:
        payload = common.parse(body)
    except common.Refused as refused:
        return refused.response()
    if not isinstance(payload, dict) or not isinstance(payload.get("events"), list):
        return _error(400, "malformed", 'expected JSON {"events": [...]}')
    events = payload["events"]
    if len(events) > MAX_EVENTS:
        # refused whole, never cut short: the sender would think the rest was applied
        return _error(
            422,
            "invalid",
            f"at most {MAX_EVENTS} events per request; send the rest in another",
            {"events": f"{len(events)} events, at most {MAX_EVENTS}"},
        )
    problems: dict[str, str] = {}
    out: list[dict[str, Any]] = []
    for index, item in enumerate(events):
        if not isinstance(item, dict):
            problems[f"events.{index}"] = "must be an object"
            continue
        kind = str(item.get("kind") or ("hard" if item.get("type") == "bounce" else "abuse"))
        if item.get("type") not in ("bounce", "complaint"):
            problems[f"events.{index}.type"] = "must be bounce or complaint"
        elif not item.get("email") and not item.get("message_id"):
            problems[f"events.{index}"] = "needs email or message_id"
        elif item["type"] == "bounce" and kind not in ("hard", "soft"):
            problems[f"events.{index}.kind"] = "must be hard or soft"
        out.append(
            {
                "type": item.get("type"),
                "email": str(item.get("email") or "").strip(),
                "message_id": str(item.get("message_id") or "").strip() or None,
                "kind": kind,
                "reason": str(item.get("reason") or item.get("type") or "")[:500],
            }
        )
    if problems:
        return _error(422, "invalid", "some events are invalid", problems)
    return out


@blueprint.post("/webhooks/email/events")
def email_events() -> Any:
    """Bounces and complaints, as JSON events or a raw DSN."""
    # imported here: the webhooks package imports this module to list its blueprint
    secret = events_secret()
    body = request.get_data(cache=True)
    if not secret:
        return _error(401, "unauthorized", "HERALD_EMAIL_EVENTS_SECRET is not configured")
    try:
        webhook_id = common.verify(secret, body, request.headers)
    except common.Refused as refused:
        return refused.response()
    reports = _reports(body)
    if isinstance(reports, tuple):
        return reports
    session = deps.session()
    if common.seen(session, SOURCE, webhook_id):
        return jsonify(accepted=0, unmatched=0, duplicate=True)
    try:
        common.record(session, SOURCE, webhook_id, "email.events", {"events": reports})
    except IntegrityError:  # the same webhook-id at the same moment: the other one applies it
        session.rollback()
        return jsonify(accepted=0, unmatched=0, duplicate=True)
    matched = sum(feedback.apply_report(session, deps.settings(), **report) for report in reports)
    session.commit()
    return jsonify(accepted=len(reports), unmatched=len(reports) - matched)


def sign(secret: str, msg_id: str, body: bytes, stamp: int | None = None) -> dict[str, str]:
    """Headers a sender (or a test) attaches: the Standard Webhooks signature of ``body``."""
    stamp = stamp or int(time.time())
    key = base64.b64decode(secret.removeprefix("whsec_"))
    digest = hmac.new(key, f"{msg_id}.{stamp}.".encode() + body, hashlib.sha256).digest()
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(stamp),
        "webhook-signature": f"v1,{base64.b64encode(digest).decode()}",
        "Content-Type": "application/json",
    }
