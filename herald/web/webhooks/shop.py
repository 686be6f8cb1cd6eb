"""``POST /webhooks/shop`` (contract section 5): verified, once-only per ``webhook-id``, applied
in the same transaction as its inbox row."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import IntegrityError

from herald.core.errors import HeraldError
from herald.intake import shop
from herald.web import deps
from herald.web.webhooks import common

SOURCE = "shop"
# tries of one webhook whose write collided with a concurrent one (fault scenario 8)
ATTEMPTS = 3
bp = Blueprint("webhooks_shop", __name__, url_prefix="/webhooks")


@bp.post("/shop")
def receive() -> Any:
    """Verify, de-duplicate, check, apply; answers 200 (also for a repeated webhook-id)."""
    settings = deps.settings()
    secret = settings.shop_webhook_secret
    if not secret:
        return common.Refused(
            503, "not_configured", "HERALD_SHOP_WEBHOOK_SECRET is not set"
        ).response()
    body = request.get_data(cache=False)
    session = deps.session()
    webhook_id = None
    try:
        webhook_id = common.verify(secret, body, request.headers)
    except common.Refused as refused:
        return refused.response()
    duplicate = jsonify(status="duplicate", webhook_id=webhook_id), 200
    for attempt in range(1, ATTEMPTS + 1):
        try:
            try:
                payload = common.parse(body)
                kind, data = shop.check(payload)
            except (common.Refused, HeraldError):
                # a repeated delivery is answered as one even if its body no longer passes
                if common.seen(session, SOURCE, webhook_id):
                    return duplicate
                raise
            event = shop.receive(
                session, kind, data, region=settings.default_phone_region, zone=settings.timezone
            )
            # the inbox row goes in last, complete, in the same transaction: a repeated
            # webhook-id fails on its unique key here and everything it did is rolled back
            common.record(session, SOURCE, webhook_id, kind, payload, processed=event.id)
            session.commit()
        except common.Refused as refused:
            session.rollback()
            return refused.response()
        except HeraldError as exc:
            session.rollback()
            if common.seen(session, SOURCE, webhook_id):
                return duplicate
            return common.Refused(exc.status, exc.code, exc.message, exc.fields).response()
        except IntegrityError:
            # the webhook-id was accepted before or at the same moment (a duplicate), or another
            # webhook created the same new member meanwhile (fault scenario 8): the next try
            # finds that member
            session.rollback()
            if common.seen(session, SOURCE, webhook_id):
                return duplicate
            if attempt == ATTEMPTS:
                raise
            continue
        return jsonify(status="accepted", webhook_id=webhook_id, event_id=event.id), 200
    raise AssertionError("unreachable: the last attempt returns or raises")
