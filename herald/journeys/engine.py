"""The journeys' part of the scheduler tick: take date and segment entries, then move every
active journey's due members on, a step at a time and set-based (each step's due members in one
or a few statements, whatever their number). Members arriving at a step that acts at once (a
message, a branch, a split) are moved on in the same tick, in rounds; a cycle must pass a wait
(checked at save), so the rounds end."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy import BigInteger, and_, cast, exists, func, literal, select
from sqlalchemy.orm import Session, aliased

from herald.audiences import segments
from herald.audiences.models import Event
from herald.campaigns.models import Campaign
from herald.core import clock
from herald.core.db import Database
from herald.core.settings import Settings
from herald.journeys import entries, messages, signals
from herald.journeys.models import Journey
from herald.journeys.models import JourneyEntry as E
from herald.journeys.models import JourneyVisit as V
from herald.journeys.moves import due, move, settle_times

log = logging.getLogger(__name__)
SPLIT_BUCKETS = 1000
HASH = 2654435761  # Knuth's multiplicative hash: spreads entry ids evenly over the buckets


def tick(db: Database, settings: Settings, now: datetime | None = None) -> int:
    """Advance every active journey, each in its own transaction (one journey that fails must
    not stop the others). Returns how many moves were made. Batches written are enqueued by the
    campaigns' reconciler, which runs after this in the same tick."""
    now = now or clock.now()
    with db.session() as session:
        ids = session.scalars(select(Journey.id).where(Journey.status == "active")).all()
    moved = 0
    for journey_id in ids:
        try:
            with db.session() as session:
                moved += run_journey(session, settings, journey_id, now)
                session.commit()
        except Exception:
            log.exception("journey %s could not be advanced this tick", journey_id)
    return moved


def run_journey(session: Session, settings: Settings, journey_id: int, now: datetime) -> int:
    """Take this journey's scheduled entries and advance its due members, under a lock on the
    journey row so two ticks never move the same members (a second tick skips the journey).

    The lock is ``FOR NO KEY UPDATE``: webhooks that enter members or leave signals insert rows
    pointing at the journey (foreign-key checks take ``FOR KEY SHARE`` on it), which a plain
    ``FOR UPDATE`` would make wait for the whole tick. Events for members the tick is moving
    arrive as signals, applied before the tick commits."""
    journey = session.scalar(
        select(Journey)
        .where(Journey.id == journey_id)
        .with_for_update(key_share=True, skip_locked=True)
    )
    if journey is None or journey.status != "active":
        return 0
    signals.apply_pending(session, journey, now)
    entries.scheduled_entries(session, journey, now, settings.timezone)
    moved = advance(session, settings, journey, now)
    signals.apply_pending(session, journey, now)
    return moved


def advance(session: Session, settings: Settings, journey: Journey, now: datetime) -> int:
    """Move due members on until nothing more is due now."""
    steps = {s["id"]: s for s in journey.definition["steps"]}
    total = 0
    for _ in range(len(steps) + 2):
        settle_times(session, journey.id, steps, now, settings.timezone)
        moved = sum(_step(session, settings, journey, steps, step, now) for step in steps.values())
        total += moved
        if not moved:
            break
    return total


def _step(
    session: Session,
    settings: Settings,
    journey: Journey,
    steps: dict[str, dict[str, Any]],
    step: dict[str, Any],
    now: datetime,
) -> int:
    sid, kind = step["id"], step["type"]
    where = due(journey.id, sid, now)
    if not session.scalar(select(exists().where(where))):
        return 0
    go = lambda cond, to, outcome=None: move(  # noqa: E731
        session, journey.id, steps, cond, sid, to, now, outcome
    )
    if kind == "message":
        campaign = session.get(Campaign, journey.step_campaigns[sid])
        assert campaign is not None
        messages.hold(session, where, sid)
        messages.write(session, campaign, where, sid, now, settings.batch_size)
        return go(where, step["next"])
    if kind == "wait":
        return go(where, step["next"])
    if kind == "wait_for":  # due here means the timeout passed without the event
        return go(where, step["else"], "timeout")
    if kind == "branch":
        yes = go(and_(where, condition(step["condition"], settings)), step["then"], "then")
        return yes + go(where, step["else"], "else")
    moved = 0
    weights = [p["weight"] for p in step["paths"]]
    bound = 0.0
    for path, weight in zip(step["paths"], weights, strict=True):
        bound += weight / sum(weights) * SPLIT_BUCKETS
        bucket = (cast(E.id, BigInteger) * literal(HASH, BigInteger) + journey.id) % SPLIT_BUCKETS
        moved += go(and_(where, bucket < round(bound)), path["next"])
    return moved + go(where, step["paths"][-1]["next"])  # rounding leftovers


def condition(rules: dict[str, Any], settings: Settings) -> Any:
    """A branch's condition over entries: segment rules on the member, or their human open or
    click of an earlier step's message in this entry."""
    if "step" in rules:
        earlier = aliased(V)
        return exists().where(
            earlier.entry_id == E.id,
            earlier.step == rules["step"],
            Event.delivery_id == earlier.delivery_id,
            Event.type == rules["event"],
            Event.machine.is_(False),
        )
    return E.contact_id.in_(segments.members(rules, zone=settings.timezone))


def waiting_counts(session: Session, journey_id: int) -> dict[str, int]:
    """Members at each step now."""
    rows = session.execute(
        select(E.step, func.count())
        .where(E.journey_id == journey_id, E.state == "active")
        .group_by(E.step)
    ).all()
    return {step: count for step, count in rows}
