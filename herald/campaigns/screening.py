"""Screening a chunk of ledger rows through the one send policy before any is handed off.

The facts the policy needs for a whole chunk (suppressions, recent sends for the frequency cap)
are read in one query each; skips and deferrals are written with one executemany each.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import bindparam, func, select
from sqlalchemy.orm import Session

from herald.audiences.models import Contact, Suppression
from herald.campaigns import status as st
from herald.campaigns.models import Delivery
from herald.campaigns.policy import Facts, Rules, decide, member_zone
from herald.core import clock
from herald.core.settings import Settings


@dataclass
class Screened:
    """A chunk after the policy: the rows to hand off, and how many were skipped or deferred."""

    sendable: list[tuple[Delivery, Contact]]
    skipped: int
    deferred: int


def screen(
    session: Session,
    settings: Settings,
    channel: Any,
    rules: Rules,
    run_id: int,
    rows: list[tuple[Delivery, Contact]],
    *,
    transactional: bool,
) -> Screened:
    """Apply the send policy to a chunk: skipped rows become ``skipped`` with the reason,
    deferred ones wait (``not_before``) with theirs; the rest are returned to be sent."""
    quiet_consent: str | None = getattr(channel, "quiet_consent", None)
    now = clock.now()
    address_field = channel.address
    addresses = {
        getattr(c, address_field) for _, c in rows if address_field and getattr(c, address_field)
    }
    suppressed = (
        set(
            session.scalars(
                select(Suppression.address).where(
                    Suppression.channel == channel.kind, Suppression.address.in_(addresses)
                )
            )
        )
        if addresses
        else set()
    )
    recent: dict[int, int] = {}
    cap = rules.frequency_cap
    if cap is not None:
        recent = dict(
            session.execute(
                select(Delivery.contact_id, func.count())
                .where(
                    Delivery.contact_id.in_([c.id for _, c in rows]),
                    Delivery.status == st.SENT,
                    Delivery.sent_at >= now - cap.window,
                    Delivery.run_id != run_id,
                )
                .group_by(Delivery.contact_id)
            ).all()
        )
    sendable: list[tuple[Delivery, Contact]] = []
    skips: list[dict[str, Any]] = []
    defers: list[dict[str, Any]] = []
    for delivery, contact in rows:
        address = getattr(contact, address_field) if address_field else "n/a"
        facts = Facts(
            has_address=bool(address) and contact.erased_at is None,
            consent_required=channel.consent is not None,
            consented=contact.consent_for(channel.consent) if channel.consent else True,
            suppressed=address in suppressed,
            sent_in_window=recent.get(contact.id, 0),
            transactional=transactional,
            quiet_hours_apply=quiet_consent is None or contact.consent_for(quiet_consent),
            local_zone=member_zone(contact.timezone, settings.timezone),
        )
        decision = decide(facts, rules, now)
        if decision.action == "skip":
            skips.append({"v_id": delivery.id, "v_reason": decision.reason})
        elif decision.action == "defer":
            defers.append(
                {"v_id": delivery.id, "v_reason": decision.reason, "v_until": decision.until}
            )
        else:
            sendable.append((delivery, contact))
    # one executemany per kind of decision, not a round trip per member
    table = Delivery.__table__
    if skips:
        session.execute(
            table.update()
            .where(table.c.id == bindparam("v_id"), table.c.status == st.PENDING)
            .values(status=st.SKIPPED, reason=bindparam("v_reason"), updated_at=now),
            skips,
        )
    if defers:
        session.execute(
            table.update()
            .where(table.c.id == bindparam("v_id"), table.c.status == st.PENDING)
            .values(
                not_before=bindparam("v_until", type_=table.c.not_before.type),
                reason=bindparam("v_reason"),
                updated_at=now,
            ),
            defers,
        )
    return Screened(sendable, len(skips), len(defers))
