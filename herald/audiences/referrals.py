"""Referrals (contract section 15): every member has a ``referral_code`` (given on creation,
backfilled by the migration); a ``customer.created`` whose ``customer.referred_by`` is another
member's code links the new member to the referrer and gives the referrer a
``referral.converted`` event, stored in the same transaction.

An unknown code, a member's own code, or a member already referred stores nothing and is no
error: the shop's webhook is still accepted (2xx), since the sign-up itself is valid."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences.models import Contact, Event
from herald.core import clock, codes

CONVERTED = "referral.converted"


def convert(session: Session, referee: Contact, code: Any) -> Event | None:
    """Link ``referee`` to the owner of ``code`` and store the owner's ``referral.converted``
    event; None (and nothing stored) when the code is unknown, the member's own, or the
    member was already referred."""
    wanted = codes.normalise_referral(code)
    if wanted is None or referee.referred_by_id is not None:
        return None
    referrer = session.scalar(
        select(Contact).where(Contact.referral_code == wanted, Contact.erased_at.is_(None))
    )
    if referrer is None or referrer.id == referee.id:
        return None
    referee.referred_by_id = referrer.id
    event = Event(
        contact_id=referrer.id,
        type=CONVERTED,
        occurred_at=clock.now(),
        data={
            "referee_id": referee.id,
            "referee_external_id": referee.external_id,
            "code": wanted,
        },
    )
    session.add(event)
    session.flush()
    return event
