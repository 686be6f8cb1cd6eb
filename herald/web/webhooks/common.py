"""What every webhook receiver needs: Standard Webhooks signatures, a once-only inbox keyed by
``webhook-id``, and the contract's error body."""

from __future__ import annotations

import binascii
import json
from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from herald.audiences.models import WebhookInbox

TOLERANCE_SECONDS = 5 * 60
MAX_WEBHOOK_ID = 255  # the inbox column's length


class Refused(Exception):
    """A webhook answered with an error: status, code and message (and fields)."""

    def __init__(self, status: int, code: str, message: str, fields: dict[str, str] | None = None):
        super().__init__(message)
        self.status, self.code, self.message, self.fields = status, code, message, fields or {}

    def response(self) -> tuple[Response, int]:
        body = {"code": self.code, "message": self.message, "fields": self.fields}
        return jsonify(error=body), self.status


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """Check a Standard Webhooks signature (and that the timestamp is within 5 minutes) with the
    ``standardwebhooks`` library; returns the ``webhook-id``. Raises :class:`Refused` (401; 400
    for a webhook-id too long to store)."""
    wanted = {k.lower(): v for k, v in headers.items() if k.lower().startswith("webhook-")}
    if not all(wanted.get(h) for h in ("webhook-id", "webhook-timestamp", "webhook-signature")):
        raise Refused(
            401, "unauthorized", "webhook-id, webhook-timestamp and webhook-signature are required"
        )
    try:
        Webhook(secret).verify(body, wanted, json_parse=False)
    except WebhookVerificationError as exc:
        raise Refused(401, "unauthorized", f"bad signature: {exc}") from None
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise Refused(401, "unauthorized", "malformed webhook-signature or body") from None
    webhook_id = wanted["webhook-id"]
    if len(webhook_id) > MAX_WEBHOOK_ID:
        # never truncated: two deliveries sharing a prefix would count as duplicates
        raise Refused(
            400,
            "malformed",
            f"webhook-id is longer than {MAX_WEBHOOK_ID} characters",
            {"webhook-id": f"at most {MAX_WEBHOOK_ID} characters"},
        )
    return webhook_id


def parse(body: bytes) -> Any:
    """The JSON body, or :class:`Refused` (400)."""
    try:
        return json.loads(body)
    except (ValueError, UnicodeDecodeError):
        raise Refused(400, "malformed", "the body is not valid JSON") from None


def seen(session: Session, source: str, webhook_id: str) -> bool:
    """Whether this delivery was already accepted."""
    query = select(WebhookInbox.id).where(
        WebhookInbox.source == source, WebhookInbox.webhook_id == webhook_id
    )
    return session.scalar(query) is not None


def record(session: Session, source: str, webhook_id: str, kind: str, payload: Any) -> WebhookInbox:
    """Add the inbox row (flushed, so a concurrent duplicate fails on the unique key here)."""
    row = WebhookInbox(
        source=source,
        webhook_id=webhook_id,
        type=str(kind)[:64],
        payload=payload if isinstance(payload, dict) else {"body": payload},
    )
    session.add(row)
    session.flush()
    return row
