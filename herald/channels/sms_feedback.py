"""The SMS provider's side of its callbacks: request signatures, STOP keywords, numbers.

Recording what a callback says (delivery status, opt-out) is campaign work:
:mod:`herald.campaigns.sms_feedback`. Twilio signs each request with ``X-Twilio-Signature``:
base64 HMAC-SHA1, keyed with the auth token, over the full URL it called followed by every POST
parameter's name and value, sorted by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping

import phonenumbers

# what people text to stop marketing messages, after trimming, upper-casing and dropping
# punctuation ("Stop." and "stop!" count); Twilio's own list plus the Chinese 退订 / 取消
STOP_WORDS = frozenset(
    {
        "STOP",
        "STOPALL",
        "STOP ALL",
        "UNSUBSCRIBE",
        "CANCEL",
        "END",
        "QUIT",
        "OPTOUT",
        "OPT OUT",
        "REVOKE",
        "退订",
        "取消",
        "退订短信",
        "取消订阅",
        "TD",
    }
)


def signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """The ``X-Twilio-Signature`` a genuine request to ``url`` with ``params`` carries."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


def valid_signature(
    auth_token: str | None, urls: list[str], params: Mapping[str, str], given: str | None
) -> bool:
    """True when ``given`` matches the signature for one of ``urls`` (the public URL and the one
    the request reached, which differ behind a proxy). No token configured: never valid."""
    if not auth_token or not given:
        return False
    return any(hmac.compare_digest(signature(auth_token, url, params), given) for url in urls)


def is_stop(body: str | None) -> bool:
    """Whether an inbound message asks to stop."""
    if not body:
        return False
    text = unicodedata.normalize("NFKC", body).strip().upper()
    text = "".join(ch for ch in text if not unicodedata.category(ch).startswith("P")).strip()
    return " ".join(text.split()) in STOP_WORDS


def e164(raw: str | None, region: str) -> str | None:
    """A sender's number in E.164, or None."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
