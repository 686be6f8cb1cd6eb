"""Signed tokens for open pixels, click links and unsubscribe links.

A token carries the delivery id (and for clicks the target URL); itsdangerous signs it with the
secret key, so a forged or altered token is rejected and never redirects anywhere.
"""

from __future__ import annotations

from typing import Any

from itsdangerous import BadSignature, URLSafeSerializer

SALTS = {"open": "herald.open", "click": "herald.click", "unsubscribe": "herald.unsubscribe"}


def _serializer(secret: str, kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALTS[kind])


def make_token(secret: str, kind: str, payload: Any) -> str:
    """Sign ``payload`` for one purpose (``open``, ``click`` or ``unsubscribe``)."""
    return _serializer(secret, kind).dumps(payload)


def read_token(secret: str, kind: str, token: str) -> Any | None:
    """The payload of a genuine token of that purpose, or ``None`` for anything else."""
    try:
        return _serializer(secret, kind).loads(token)
    except (BadSignature, ValueError, TypeError):
        return None


def unsubscribe_url(public_url: str, secret: str, delivery_id: int) -> str:
    return f"{public_url}/u/{make_token(secret, 'unsubscribe', delivery_id)}"
