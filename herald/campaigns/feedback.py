"""What recipients and their mail systems tell us back: bounces, complaints, unsubscribes.

Each becomes an event tied to the delivery (so metrics count it) and, where it means "never mail
this address again", a suppression. Callers hold a session and commit; nothing here imports Flask
or Celery, so the web endpoints, the DSN command and the ledger (synchronous SMTP 5xx) share it.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from herald.audiences.models import Consent, Contact, Event
from herald.audiences.suppression import suppress as add_suppression
from herald.campaigns.models import Delivery, Run
from herald.core import clock
from herald.core.settings import Settings, hard_bounce_limit


@dataclass(frozen=True)
class DeliveryRef:
    """The identifiers every tracking event carries."""

    delivery_id: int | None
    run_id: int | None
    campaign_id: int | None
    contact_id: int | None
    sent_at: datetime | None = None


def find_delivery(session: Session, delivery_id: int) -> DeliveryRef | None:
    """The delivery with its run and campaign, or ``None``."""
    row = session.execute(
        select(Delivery.id, Delivery.run_id, Run.campaign_id, Delivery.contact_id, Delivery.sent_at)
        .join(Run, Run.id == Delivery.run_id)
        .where(Delivery.id == delivery_id)
    ).first()
    return DeliveryRef(*row) if row else None


def find_by_message_id(session: Session, message_id: str) -> DeliveryRef | None:
    """The delivery whose provider id (the email's Message-ID) is ``message_id``."""
    wanted = message_id.strip()
    if not wanted.startswith("<"):
        wanted = f"<{wanted}>"
    found = session.scalar(select(Delivery.id).where(Delivery.provider_id == wanted).limit(1))
    return find_delivery(session, found) if found is not None else None


def contact_for_address(session: Session, address: str) -> int | None:
    return session.scalar(select(Contact.id).where(func.lower(Contact.email) == address.lower()))


def record_event(
    session: Session,
    kind: str,
    ref: DeliveryRef,
    data: Mapping[str, Any] | None = None,
    *,
    machine: bool = False,
) -> Event:
    """Add one event tied to a delivery."""
    event = Event(
        type=kind,
        delivery_id=ref.delivery_id,
        run_id=ref.run_id,
        campaign_id=ref.campaign_id,
        contact_id=ref.contact_id,
        occurred_at=clock.now(),
        machine=machine,
        data=dict(data or {}),
    )
    session.add(event)
    return event


def suppress(session: Session, channel: str, address: str, reason: str, detail: str = "") -> None:
    """Suppress ``address`` on ``channel`` (reason ``hard_bounce``, ``complaint`` or
    ``unsubscribe``); idempotent, and withdraws the matching members' consent."""
    add_suppression(session, channel, address, reason, detail)


def record_bounce(
    session: Session,
    settings: Settings,
    ref: DeliveryRef,
    address: str,
    kind: str,
    reason: str,
) -> None:
    """A ``bounced`` event; a hard one suppresses the address once the member reaches
    ``HERALD_HARD_BOUNCE_LIMIT`` hard bounces."""
    kind = "hard" if kind == "hard" else "soft"
    record_event(session, "bounced", ref, {"kind": kind, "reason": reason[:500]})
    if kind != "hard":
        return
    session.flush()
    hard = Event.data["kind"].as_string() == "hard"
    count = session.scalar(
        select(func.count())
        .select_from(Event)
        .where(Event.type == "bounced", hard, Event.contact_id == ref.contact_id)
    )
    if address and (ref.contact_id is None or (count or 0) >= hard_bounce_limit(settings)):
        suppress(session, "email", address, "hard_bounce", reason)


def record_complaint(session: Session, ref: DeliveryRef, address: str, reason: str) -> None:
    """A ``complained`` event (spam report) and an email suppression."""
    record_event(session, "complained", ref, {"reason": reason[:500]})
    if address:
        suppress(session, "email", address, "complaint", reason)


def unsubscribe(session: Session, ref: DeliveryRef) -> bool:
    """Revoke email consent, suppress the address and record ``unsubscribed`` once per delivery.
    Returns ``True`` when this call recorded it."""
    contact = session.get(Contact, ref.contact_id) if ref.contact_id is not None else None
    if contact is not None:
        consent = session.get(Consent, (contact.id, "email"))
        if consent is None:
            session.add(Consent(contact_id=contact.id, channel="email", granted=False))
        else:
            consent.granted = False
            consent.source = "unsubscribe"
            consent.updated_at = clock.now()
        if contact.email:
            suppress(session, "email", contact.email, "unsubscribe", "one-click unsubscribe")
    already = session.scalar(
        select(Event.id).where(Event.type == "unsubscribed", Event.delivery_id == ref.delivery_id)
    )
    if already is not None:
        return False
    record_event(session, "unsubscribed", ref, {"channel": "email"})
    return True


def record_outcome_events(
    session: Session,
    settings: Settings,
    campaign_id: int,
    items: Iterable[tuple[Any, Mapping[str, Any]]],
) -> None:
    """Called by the ledger with ``(delivery, outcome.event)`` pairs in its transaction."""
    for delivery, event in items:
        ref = DeliveryRef(delivery.id, delivery.run_id, campaign_id, delivery.contact_id)
        data = dict(event.get("data") or {})
        if event.get("type") == "bounced":
            address = str(event.get("address") or "")
            record_bounce(
                session, settings, ref, address, data.get("kind", "hard"), data.get("reason", "")
            )
        else:
            record_event(session, str(event["type"]), ref, data)


def apply_report(
    session: Session,
    settings: Settings,
    *,
    type: str,
    email: str,
    message_id: str | None,
    kind: str,
    reason: str,
) -> bool:
    """Record one bounce or complaint from a webhook or a DSN. The delivery is found by its
    Message-ID, else the member by address. Returns ``False`` when neither is known (the address
    is still suppressed for a hard bounce or a complaint). The same report twice has no second
    effect."""
    ref = find_by_message_id(session, message_id) if message_id else None
    if ref is None:
        contact_id = contact_for_address(session, email) if email else None
        ref = DeliveryRef(None, None, None, contact_id)
    if not email and ref.contact_id is not None:
        email = session.scalar(select(Contact.email).where(Contact.id == ref.contact_id)) or ""
    event_type = "complained" if type == "complaint" else "bounced"
    if ref.delivery_id is not None and _already(session, event_type, ref.delivery_id, kind):
        return True
    if event_type == "complained":
        if ref.contact_id is not None or ref.delivery_id is not None:
            record_complaint(session, ref, email, reason)
        elif email:
            suppress(session, "email", email, "complaint", reason)
    elif ref.contact_id is not None or ref.delivery_id is not None:
        record_bounce(session, settings, ref, email, kind, reason)
    elif email and kind == "hard":
        suppress(session, "email", email, "hard_bounce", reason)
    return ref.delivery_id is not None or ref.contact_id is not None


def _already(session: Session, event_type: str, delivery_id: int, kind: str) -> bool:
    query = select(Event.id).where(Event.type == event_type, Event.delivery_id == delivery_id)
    if event_type == "bounced":
        query = query.where(Event.data["kind"].as_string() == kind)
    return session.scalar(query.limit(1)) is not None
