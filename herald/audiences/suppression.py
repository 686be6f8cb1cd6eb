"""The suppression list: addresses that must never get marketing on a channel again.

A suppression wins over everything that comes later: imports, the API and shop webhooks cannot
grant consent again for a suppressed address (see :func:`herald.audiences.contacts.set_consent`).
Bounce handling, complaint feedback and unsubscribe links call :func:`suppress`.
"""

from __future__ import annotations

from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.audiences.contacts import normalise_phone
from herald.audiences.models import CHANNEL_CONSENTS, Consent, Contact, Suppression
from herald.core import clock
from herald.core.errors import ValidationError

REASONS: tuple[str, ...] = ("hard_bounce", "complaint", "unsubscribe", "manual")


def normalise(channel: str, address: str, region: str = "CN") -> str:
    """The stored form of an address: lower-case email, E.164 phone (as given when unparseable)."""
    if channel not in CHANNEL_CONSENTS:
        raise ValidationError(f"channel: unknown channel {channel!r}", {"channel": "unknown"})
    raw = (address or "").strip()
    if not raw:
        raise ValidationError("address: required", {"address": "required"})
    if channel == "email":
        return raw.lower()
    try:
        return normalise_phone(raw, region)
    except ValueError:
        return raw


def suppress(
    session: Session,
    channel: str,
    address: str,
    reason: str,
    detail: str | None = None,
) -> Suppression:
    """Suppress ``address`` on ``channel`` ("email" or "sms") for ``reason`` (one of
    :data:`REASONS`) and withdraw the consent of every member with that address. Idempotent: a
    second call returns the existing row (its first reason is kept). Does not commit."""
    if reason not in REASONS:
        raise ValidationError(f"reason: must be one of {', '.join(REASONS)}", {"reason": "unknown"})
    address = normalise(channel, address)
    existing = find(session, channel, address)
    if existing is None:
        try:
            with session.begin_nested():
                existing = Suppression(
                    channel=channel, address=address, reason=reason, detail=(detail or "")[:500]
                )
                session.add(existing)
        except IntegrityError:  # someone else suppressed it at the same moment
            existing = find(session, channel, address)
            assert existing is not None
    _withdraw_consent(session, channel, address, reason)
    return existing


def _withdraw_consent(session: Session, channel: str, address: str, reason: str) -> None:
    column = Contact.email if channel == "email" else Contact.phone
    ids = select(Contact.id).where(column == address).scalar_subquery()
    session.execute(
        update(Consent)
        .where(Consent.contact_id.in_(ids), Consent.channel == channel, Consent.granted.is_(True))
        .values(granted=False, source=f"suppression:{reason}", updated_at=clock.now())
        .execution_options(synchronize_session="fetch")
    )


def find(session: Session, channel: str, address: str) -> Suppression | None:
    """The suppression row for an already normalised address, if any."""
    return session.scalar(
        select(Suppression).where(Suppression.channel == channel, Suppression.address == address)
    )


def is_suppressed(session: Session, channel: str, address: str | None) -> bool:
    """Whether ``address`` may not receive marketing on ``channel``."""
    if not address:
        return False
    return find(session, channel, normalise(channel, address)) is not None


def unsuppress(session: Session, channel: str, address: str) -> bool:
    """Lift a suppression (an operator's manual decision); consent is not granted back."""
    result = session.execute(
        delete(Suppression).where(
            Suppression.channel == channel, Suppression.address == normalise(channel, address)
        )
    )
    return bool(result.rowcount)  # type: ignore[attr-defined]
