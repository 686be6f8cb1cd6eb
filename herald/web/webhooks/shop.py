"""``POST /webhooks/shop`` (contract section 5): verified, once-only per ``webhook-id``, applied
in the same transaction as its inbox row."""

from __future__ import annotations

from typing import Any

from flask import Blueprint, jsonify, request
from sqlalchemy.exc import IntegrityError

from herald.core import clock
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
    secret = deps.settings().shop_webhook_secret
    if not secret:
        return common.Refused(
            503, "not_configured", "HERALD_SHOP_WEBHOOK_SECRET is not set"
        ).response()
    body = request.get_data(cache=False)
    session = deps.session()
    try:
        webhook_id = common.verify(secret, body, request.headers)
    except common.Refused as refused:
        return refused.response()
    attempt = 1
    while True:
        try:
            if common.seen(session, SOURCE, webhook_id):
                return jsonify(status="duplicate", webhook_id=webhook_id), 200
            kind, data = shop.check(common.parse(body))
            inbox = common.record(session, SOURCE, webhook_id, kind, common.parse(body))
            event = shop.receive(
                session,
                kind,
                data,
                region=deps.settings().default_phone_region,
                zone=deps.settings().timezone,
            )
            inbox.processed_at, inbox.event_id = clock.now(), event.id
            session.commit()
        except common.Refused as refused:
            session.rollback()
            return refused.response()
        except HeraldError as exc:
            session.rollback()
            return common.Refused(exc.status, exc.code, exc.message, exc.fields).response()
        except IntegrityError:
            # the same webhook-id delivered twice at the same moment (a duplicate), or another
            # webhook created the same new member meanwhile: the next try finds that member
            session.rollback()
            if attempt == ATTEMPTS:
                raise
            attempt += 1
            continue
        return jsonify(status="accepted", webhook_id=webhook_id, event_id=event.id), 200
