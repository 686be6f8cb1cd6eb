"""Signed tokens for open pixels, click links and unsubscribe links.

A token carries the delivery id (and for clicks the target URL); itsdangerous signs it with the
secret key, so a forged or altered token is rejected and never redirects anywhere. Serializers
are cached per secret and purpose because a run signs several tokens per member.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import re
from functools import lru_cache
from typing import Any
from urllib.parse import quote

from itsdangerous import BadSignature, URLSafeSerializer

MAX_ID = 2_147_483_647
SALTS = {"open": "herald.open", "click": "herald.click", "unsubscribe": "herald.unsubscribe"}


@lru_cache(maxsize=32)
def _serializer(secret: str, kind: str) -> URLSafeSerializer:
    return URLSafeSerializer(secret, salt=SALTS[kind])


@lru_cache(maxsize=32)
def _mac(secret: str, kind: str) -> Any:
    """itsdangerous's default signer (django-concat key derivation, HMAC-SHA1), with the derived
    key computed once instead of on every token."""
    key = hashlib.sha1(SALTS[kind].encode() + b"signer" + secret.encode()).digest()
    return hmac.new(key, digestmod=hashlib.sha1)


def make_token(secret: str, kind: str, payload: Any) -> str:
    """Sign ``payload`` for one purpose (``open``, ``click`` or ``unsubscribe``). The token is an
    itsdangerous ``URLSafeSerializer`` token (uncompressed), produced without its per-call key
    derivation: a run signs about a dozen tokens per member."""
    body = json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()
    value = base64.urlsafe_b64encode(body).rstrip(b"=")
    mac = _mac(secret, kind).copy()
    mac.update(value)
    signature = base64.urlsafe_b64encode(mac.digest()).rstrip(b"=")
    return (value + b"." + signature).decode("ascii")


def read_token(secret: str, kind: str, token: str) -> Any | None:
    """The payload of a genuine token of that purpose, or ``None`` for anything else."""
    try:
        return _serializer(secret, kind).loads(token)
    except (BadSignature, ValueError, TypeError, KeyError):
        return None


def unsubscribe_url(public_url: str, secret: str, delivery_id: int) -> str:
    """``{PUBLIC_URL}/u/{token}``: the one-click unsubscribe link of one delivery."""
    return f"{public_url}/u/{make_token(secret, 'unsubscribe', delivery_id)}"


def open_url(public_url: str, secret: str, delivery_id: int) -> str:
    """``{PUBLIC_URL}/t/o/{token}.gif``: the open pixel of one delivery."""
    return f"{public_url}/t/o/{make_token(secret, 'open', delivery_id)}.gif"


# whitespace and control characters: never inside a signed click target
_UNSAFE = re.compile(r"[\s\x00-\x1f\x7f-\x9f]")
_EDGES = "".join(chr(code) for code in range(33))  # C0 controls and space


def clean_target(target: str) -> str:
    """``target`` as a browser would follow it (the URL standard): C0 controls and spaces
    stripped from both ends, tabs and newlines dropped, any other whitespace or control
    character percent-encoded. A header-splitting ``\r\n`` never reaches a signed target."""
    target = target.strip(_EDGES)
    if not _UNSAFE.search(target):
        return target  # the common case: nothing to drop or encode
    target = re.sub(r"[\t\n\r]", "", target)
    return _UNSAFE.sub(lambda match: quote(match.group(0), safe=""), target)


def click_url(
    public_url: str, secret: str, delivery_id: int, target: str, position: int | None = None
) -> str:
    """``{PUBLIC_URL}/t/c/{token}``: a tracked link to ``target`` (cleaned, see
    :func:`clean_target`) for one delivery; ``position`` is the link's place in the message
    (1, 2, …), so two links to one target stay apart."""
    payload: list[Any] = [delivery_id, clean_target(target)]
    if position is not None:
        payload.append(position)
    return f"{public_url}/t/c/{make_token(secret, 'click', payload)}"


def _is_id(value: Any) -> bool:
    """A delivery id an INTEGER column can hold."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value <= MAX_ID


def read_delivery(secret: str, kind: str, token: str) -> int | None:
    """The delivery id of a genuine open or unsubscribe token."""
    payload = read_token(secret, kind, token)
    return payload if _is_id(payload) else None


def read_click(secret: str, token: str) -> tuple[int, str] | None:
    """``(delivery_id, target)`` of a genuine click token whose target is an http(s) URL without
    whitespace or control characters."""
    found = read_click_link(secret, token)
    return None if found is None else (found[0], found[1])


def read_click_link(secret: str, token: str) -> tuple[int, str, int | None] | None:
    """``(delivery_id, target, position)`` of a genuine click token (position None for a token
    made without one)."""
    payload = read_token(secret, "click", token)
    if not (isinstance(payload, list) and len(payload) in (2, 3)):
        return None
    delivery_id, target = payload[0], payload[1]
    position = payload[2] if len(payload) == 3 else None
    if not _is_id(delivery_id) or not isinstance(target, str):
        return None
    if position is not None and not (_is_id(position) and position <= 10_000):
        return None
    if not target.lower().startswith(("http://", "https://")) or _UNSAFE.search(target):
        return None
    return delivery_id, target, position
