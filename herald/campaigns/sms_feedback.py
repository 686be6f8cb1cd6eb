"""What the SMS provider tells us back, recorded: delivery status callbacks and STOP opt-outs.

Plain Python (no Flask): the webhook endpoints verify the request (with
:mod:`herald.channels.sms_feedback`), call these with a session and commit.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences import suppression
from herald.audiences.models import Contact, Event
from herald.campaigns.models import Delivery, Run
from herald.core import clock

DELIVERED = frozenset({"delivered"})
FAILED = frozenset({"failed", "undelivered"})


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


def opt_out(session: Session, phone: str) -> int:
    """Suppress the number for SMS and withdraw the SMS consent of every member with it, in the
    caller's transaction (so no later import or webhook opts it back in). Returns how many
    members had it."""
    suppression.suppress(session, "sms", phone, "unsubscribe", "STOP keyword by SMS")
    session.flush()
    return len(list(session.scalars(select(Contact.id).where(Contact.phone == phone))))
