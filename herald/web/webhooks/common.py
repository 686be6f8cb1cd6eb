"""What every webhook receiver needs: Standard Webhooks signatures, a once-only inbox keyed by
``webhook-id``, and the contract's error body."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import time
from collections.abc import Mapping
from typing import Any

from flask import Response, jsonify
from sqlalchemy import select
from sqlalchemy.orm import Session
from standardwebhooks import Webhook
from standardwebhooks.webhooks import WebhookVerificationError

from herald.audiences.models import WebhookInbox
from herald.core import clock

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
        body.decode("utf-8")
    except UnicodeDecodeError:
        # the library verifies text only; a genuine delivery of bytes that are not UTF-8 is
        # unparseable (400), anything else is unsigned (401)
        if _signed_bytes(secret, body, wanted):
            raise Refused(400, "malformed", "the body is not UTF-8") from None
        raise Refused(401, "unauthorized", "bad signature") from None
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


MAX_DEPTH = 32  # nested objects and lists in a webhook body


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"{text} is too large for a number")
    return value


def _constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _signed_bytes(secret: str, body: bytes, headers: Mapping[str, str]) -> bool:
    """The Standard Webhooks check over raw bytes: a fresh timestamp and a matching v1 HMAC."""
    try:
        stamp = int(headers["webhook-timestamp"])
        key = base64.b64decode(secret.removeprefix("whsec_"))
    except (ValueError, binascii.Error):
        return False
    if abs(time.time() - stamp) > TOLERANCE_SECONDS:
        return False
    signed = f"{headers['webhook-id']}.{stamp}.".encode() + body
    expected = hmac.new(key, signed, hashlib.sha256).digest()
    for part in headers["webhook-signature"].split():
        version, _, signature = part.partition(",")
        try:
            given = base64.b64decode(signature)
        except (ValueError, binascii.Error):
            continue
        if version == "v1" and hmac.compare_digest(expected, given):
            return True
    return False


def parse(body: bytes) -> Any:
    """The JSON body, or :class:`Refused`: 400 when it is not UTF-8 JSON (NaN, Infinity and
    numbers beyond a double count as not JSON, as does nesting deep enough to exhaust the
    parser), 422 when it nests deeper than :data:`MAX_DEPTH` or holds a NUL character (which
    the database refuses)."""
    try:
        text = body.decode("utf-8")
        payload = json.loads(text, parse_float=_finite, parse_constant=_constant)
    except UnicodeDecodeError:
        raise Refused(400, "malformed", "the body is not UTF-8") from None
    except (ValueError, RecursionError):
        raise Refused(400, "malformed", "the body is not valid JSON") from None
    problem = check_tree(payload)
    if problem is not None:
        place, message = problem
        raise Refused(422, "invalid", f"{place or 'body'}: {message}", {place or "": message})
    return payload


def check_tree(value: Any) -> tuple[str, str] | None:
    """``(place, message)`` for the first NUL character or nesting beyond :data:`MAX_DEPTH` in a
    parsed JSON value, else None. Iterative, so no body can exhaust the stack here."""
    stack: list[tuple[Any, str, int]] = [(value, "", 0)]
    while stack:
        item, path, depth = stack.pop()
        if depth > MAX_DEPTH:
            return path, f"nested deeper than {MAX_DEPTH} levels"
        if isinstance(item, str):
            if "\x00" in item:
                return path, "must not contain NUL characters"
        elif isinstance(item, dict):
            for key, inner in item.items():
                if "\x00" in key:
                    return path, "keys must not contain NUL characters"
                stack.append((inner, f"{path}.{key}" if path else key, depth + 1))
        elif isinstance(item, list):
            for index, inner in enumerate(item):
                stack.append((inner, f"{path}[{index}]", depth + 1))
    return None


def seen(session: Session, source: str, webhook_id: str) -> bool:
    """Whether this delivery was already accepted."""
    query = select(WebhookInbox.id).where(
        WebhookInbox.source == source, WebhookInbox.webhook_id == webhook_id
    )
    return session.scalar(query) is not None


def record(
    session: Session,
    source: str,
    webhook_id: str,
    kind: str,
    payload: Any,
    processed: int | None = None,
) -> WebhookInbox:
    """Add the inbox row (flushed, so a concurrent duplicate fails on the unique key here);
    ``processed``: the id of the event it was applied as, when that is done already."""
    row = WebhookInbox(
        source=source,
        webhook_id=webhook_id,
        type=str(kind)[:64],
        payload=payload if isinstance(payload, dict) else {"body": payload},
    )
    if processed is not None:
        row.processed_at, row.event_id = clock.now(), processed
    session.add(row)
    session.flush()
    return row
