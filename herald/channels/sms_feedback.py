"""What the SMS provider tells us back: delivery status callbacks and inbound STOP keywords.

Plain Python (no Flask): the webhook endpoints verify the request, call these with a session and
commit. Twilio signs each request with ``X-Twilio-Signature``: base64 HMAC-SHA1, keyed with the
auth token, over the full URL it called followed by every POST parameter's name and value,
sorted by name.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import unicodedata
from collections.abc import Mapping
from typing import Any

import phonenumbers
from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences import suppression
from herald.audiences.models import Contact, Event
from herald.campaigns.models import Delivery, Run
from herald.core import clock

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
DELIVERED = frozenset({"delivered"})
FAILED = frozenset({"failed", "undelivered"})


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


def record_status(session: Session, params: Mapping[str, str]) -> str:
    """Record a status callback as ``sms.delivered`` / ``sms.failed`` on the delivery whose
    provider id is the message sid. Returns what was done (for logs and tests); repeated
    callbacks for the same outcome are recorded once."""
    sid = params.get("MessageSid") or params.get("SmsSid") or ""
    status = (params.get("MessageStatus") or params.get("SmsStatus") or "").lower()
    kind = "sms.delivered" if status in DELIVERED else "sms.failed" if status in FAILED else None
    if not sid or kind is None:
        return "ignored"
    row = session.execute(
        select(Delivery.id, Delivery.run_id, Run.campaign_id, Delivery.contact_id)
        .join(Run, Run.id == Delivery.run_id)
        .where(Delivery.provider_id == sid)
        .limit(1)
    ).first()
    if row is None:
        return "unknown message"
    delivery_id, run_id, campaign_id, contact_id = row
    seen = session.scalar(
        select(Event.id).where(Event.delivery_id == delivery_id, Event.type == kind).limit(1)
    )
    if seen is not None:
        return "duplicate"
    data: dict[str, Any] = {"status": status, "sid": sid}
    if params.get("ErrorCode"):
        data["error_code"] = params["ErrorCode"]
    session.add(
        Event(
            type=kind,
            delivery_id=delivery_id,
            run_id=run_id,
            campaign_id=campaign_id,
            contact_id=contact_id,
            occurred_at=clock.now(),
            data=data,
        )
    )
    return kind


def e164(raw: str | None, region: str) -> str | None:
    """A sender's number in E.164, or None."""
    if not raw:
        return None
    try:
        number = phonenumbers.parse(raw, region)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def opt_out(session: Session, phone: str) -> int:
    """Suppress the number for SMS and withdraw the SMS consent of every member with it, in the
    caller's transaction (so no later import or webhook opts it back in). Returns how many
    members had it."""
    suppression.suppress(session, "sms", phone, "unsubscribe", "STOP keyword by SMS")
    session.flush()
    return len(list(session.scalars(select(Contact.id).where(Contact.phone == phone))))
