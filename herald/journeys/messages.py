"""Message steps into the ledger.

The ledger key. A message step is a campaign of its own; each tick that finds members due at the
step writes them into a fresh :class:`~herald.campaigns.models.Run` of that campaign (``due_at``
= the tick's moment) with one INSERT … SELECT, cut into batches that the reconciler enqueues and
the ordinary sending path sends: consent, suppression, frequency cap and quiet hours (deferred,
never skipped silently) apply as to every broadcast, and crash recovery is the ledger's.

"At most once per entry" rests on :class:`~herald.journeys.models.JourneyVisit`, unique per
(entry, step): only a visit whose ``delivery_id`` is still empty gets a ledger row, and the same
transaction that writes the rows links them to the visits and moves the members on. A tick that
dies before committing wrote nothing; one that committed moved them, so no second tick writes
them again; the journey row is locked for the tick so two ticks never both see them due.
``(run, contact)`` stays unique as for every run: a run per tick needs no nullable entry id in
the ledger's key (which PostgreSQL would not hold unique, NULLs being distinct), keeps the
campaign tables as they are, and lets a member who enters again later, the same day, get the
step again — the one-per-UTC-day limit of triggers is gone. The cost is a run per step and
busy tick, closed like any other run when its batches are done.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, case, exists, func, insert, literal, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.campaigns import status as st
from herald.campaigns.models import Batch, Campaign, Delivery, Run
from herald.journeys.models import JourneyEntry as E
from herald.journeys.models import JourneyVisit as V


def hold(session: Session, where: Any, step: str) -> None:
    """Holdout members pass a message step unsent; their visit says so."""
    session.execute(
        update(V)
        .where(
            V.step == step,
            V.delivery_id.is_(None),
            V.outcome.is_(None),
            V.entry_id.in_(select(E.id).where(where, E.holdout.is_(True))),
        )
        .values(outcome="held")
    )


def write(
    session: Session, campaign: Campaign, where: Any, step: str, now: datetime, batch_size: int
) -> int:
    """Write a ledger row for each entry ``where`` selects that has not had this step's message
    in this entry, link it to the visit, and cut the rows into batches. Returns the rows."""
    unsent = and_(
        where,
        E.holdout.is_(False),
        exists().where(
            V.entry_id == E.id, V.step == step, V.delivery_id.is_(None), V.outcome.is_(None)
        ),
    )
    if not session.scalar(select(exists().where(unsent))):
        return 0
    run = run_at(session, campaign.id, now)
    offset = run.batches_total
    variants = [v.id for v in campaign.variants]
    variant: Any = (
        literal(variants[0])
        if len(variants) == 1
        else case(
            *[(E.contact_id % len(variants) == i, vid) for i, vid in enumerate(variants)],
            else_=variants[0],
        )
    )
    position = func.row_number().over(order_by=E.contact_id) - 1
    source = select(
        literal(run.id),
        E.contact_id,
        variant,
        offset + position // batch_size,
        literal(st.PENDING),
        literal(0),
        literal(False),
        E.data,
    ).where(unsent)
    before = run.recipients
    session.execute(
        insert(Delivery).from_select(
            [
                "run_id",
                "contact_id",
                "variant_id",
                "batch_seq",
                "status",
                "attempts",
                "uncertain",
                "data",
            ],
            source,
        )
    )
    # counted, not the INSERT's rowcount: drivers differ in what they report for INSERT … SELECT
    written = (session.scalar(select(func.count()).where(Delivery.run_id == run.id)) or 0) - before
    ledger_row = (
        select(Delivery.id)
        .where(
            Delivery.run_id == run.id,
            Delivery.contact_id
            == select(E.contact_id).where(E.id == V.entry_id).correlate(V).scalar_subquery(),
        )
        .correlate(V)
        .scalar_subquery()
    )
    session.execute(
        update(V)
        .where(
            V.step == step,
            V.delivery_id.is_(None),
            V.outcome.is_(None),
            V.entry_id.in_(select(E.id).where(where, E.holdout.is_(False))),
        )
        .values(delivery_id=ledger_row)
    )
    batches = -(-written // batch_size)
    if batches:
        session.execute(
            insert(Batch),
            [
                {"run_id": run.id, "seq": seq, "status": "queued"}
                for seq in range(offset, offset + batches)
            ],
        )
    session.execute(
        update(Run)
        .where(Run.id == run.id)
        .values(
            recipients=Run.recipients + written,
            batches_total=Run.batches_total + batches,
            status="sending",
            finished_at=None,
        )
    )
    session.expire(run)
    return written


def run_at(session: Session, campaign_id: int, now: datetime) -> Run:
    """The step's campaign's run of the moment ``now`` (this tick's), created on first use."""
    found = session.scalar(select(Run).where(Run.campaign_id == campaign_id, Run.due_at == now))
    if found is not None:
        return found
    run = Run(campaign_id=campaign_id, status="sending", due_at=now, started_at=now)
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        run = session.scalar(select(Run).where(Run.campaign_id == campaign_id, Run.due_at == now))
        assert run is not None
    return run
