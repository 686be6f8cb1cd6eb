"""Reading a chunk of ledger rows and screening it through the one send policy before any is
handed off.

One SELECT reads the chunk as plain columns: each pending row, its member's columns and the
facts the policy needs (consent, quiet-hours consent, suppression, sends within the frequency
cap's window), so a chunk costs one round trip whatever its size and no ORM object is built.
Skips and deferrals are written with one executemany each.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from sqlalchemy import Select, bindparam, exists, false, func, literal, or_, select, true
from sqlalchemy.orm import Session, aliased
from sqlalchemy.sql.elements import ColumnElement

from herald.audiences.models import Consent, Contact, ContactScore, Suppression
from herald.campaigns import status as st
from herald.campaigns.context import SCORE_FIELDS, ContactRow
from herald.campaigns.models import Delivery
from herald.campaigns.policy import Facts, Rules, decide
from herald.core import clock
from herald.core.db import UTCDateTime
from herald.core.settings import Settings


@dataclass(frozen=True, slots=True)
class LedgerRow:
    """The ledger columns the send path needs of one delivery."""

    id: int
    run_id: int
    contact_id: int
    variant_id: int | None
    attempts: int
    data: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class ChunkRow:
    """One pending delivery with its member and the policy's facts about them."""

    delivery: LedgerRow
    contact: ContactRow
    consented: bool
    quiet_consented: bool
    suppressed: bool
    sent_in_window: int


@dataclass
class Screened:
    """A chunk after the policy: the rows to hand off, and how many were skipped or deferred."""

    sendable: list[tuple[LedgerRow, ContactRow]]
    skipped: int
    deferred: int


@cache
def _chunk_statement(
    kind: str,
    address_field: str | None,
    consent: str | None,
    quiet_consent: str | None,
    capped: bool,
) -> Select[Any]:
    """The chunk's SELECT for one channel shape; every value is a bound parameter."""
    if address_field:
        address = getattr(Contact, address_field)
        suppressed: ColumnElement[bool] = exists(
            select(Suppression.id).where(
                Suppression.channel == kind, Suppression.address == address
            )
        )
    else:
        suppressed = false()
    now = bindparam("now", type_=UTCDateTime)
    recent: Any = literal(0)
    if capped:
        earlier = aliased(Delivery)
        recent = (
            select(func.count())
            .where(
                earlier.contact_id == Contact.id,
                earlier.status == st.SENT,
                earlier.sent_at >= bindparam("window_start", type_=UTCDateTime),
                earlier.run_id != bindparam("run_id"),
            )
            .correlate(Contact)
            .scalar_subquery()
        )
    contact_columns = [
        getattr(ContactScore if name in SCORE_FIELDS else Contact, name)
        for name in ContactRow._fields
    ]
    return (
        select(
            Delivery.id,
            Delivery.run_id,
            Delivery.contact_id,
            Delivery.variant_id,
            Delivery.attempts,
            Delivery.data,
            *contact_columns,
            _consented(consent).label("consented"),
            _consented(quiet_consent).label("quiet_consented"),
            suppressed.label("suppressed"),
            recent.label("sent_in_window"),
        )
        .join(Contact, Contact.id == Delivery.contact_id)
        .outerjoin(ContactScore, ContactScore.contact_id == Contact.id)
        .where(
            Delivery.run_id == bindparam("run_id"),
            Delivery.batch_seq == bindparam("seq"),
            Delivery.status == st.PENDING,
            Delivery.id > bindparam("after_id"),
            or_(Delivery.not_before.is_(None), Delivery.not_before <= now),
        )
        .order_by(Delivery.id)
        .limit(bindparam("limit"))
    )


def _consented(channel: str | None) -> ColumnElement[bool]:
    if channel is None:
        return true()
    return exists(
        select(Consent.contact_id).where(
            Consent.contact_id == Contact.id, Consent.channel == channel, Consent.granted.is_(True)
        )
    )


def read_chunk(
    session: Session,
    channel: Any,
    rules: Rules,
    run_id: int,
    seq: int,
    after_id: int,
    limit: int,
    now: datetime,
) -> list[ChunkRow]:
    """The next ``limit`` pending rows of the batch after ``after_id`` (due now), with the
    policy's facts, in one SELECT (built once per process and channel shape, run as a Core
    statement: no ORM machinery per chunk)."""
    cap = rules.frequency_cap
    statement = _chunk_statement(
        channel.kind,
        channel.address,
        channel.consent,
        getattr(channel, "quiet_consent", None),
        cap is not None,
    )
    params: dict[str, Any] = {
        "run_id": run_id,
        "seq": seq,
        "after_id": after_id,
        "limit": limit,
        "now": now,
    }
    if cap is not None:
        params["window_start"] = now - cap.window
    rows = session.connection().execute(statement, params).all()
    contact_columns = ContactRow._fields
    width = len(contact_columns)
    return [
        ChunkRow(
            LedgerRow(*row[:6]),
            ContactRow(*row[6 : 6 + width]),
            bool(row[6 + width]),
            bool(row[7 + width]),
            bool(row[8 + width]),
            int(row[9 + width] or 0),
        )
        for row in rows
    ]


def screen(
    session: Session,
    settings: Settings,
    channel: Any,
    rules: Rules,
    rows: list[ChunkRow],
    *,
    transactional: bool,
) -> Screened:
    """Apply the send policy to a chunk: skipped rows become ``skipped`` with the reason,
    deferred ones wait (``not_before``) with theirs; the rest are returned to be sent."""
    quiet_consent: str | None = getattr(channel, "quiet_consent", None)
    now = clock.now()
    address_field = channel.address
    sendable: list[tuple[LedgerRow, ContactRow]] = []
    skips: list[dict[str, Any]] = []
    defers: list[dict[str, Any]] = []
    for row in rows:
        delivery, contact = row.delivery, row.contact
        address = getattr(contact, address_field) if address_field else "n/a"
        facts = Facts(
            has_address=bool(address) and contact.erased_at is None,
            consent_required=channel.consent is not None,
            consented=row.consented,
            suppressed=row.suppressed,
            sent_in_window=row.sent_in_window,
            transactional=transactional,
            quiet_hours_apply=quiet_consent is None or row.quiet_consented,
            local_zone=clock.member_zone(contact.timezone, settings.timezone),
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
