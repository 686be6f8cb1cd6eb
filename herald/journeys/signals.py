"""Events a member in a journey listens for (``exit_on`` goals, ``wait_for`` steps), applied
when the event is stored without ever waiting for the tick.

The tick holds row locks on the entries it moves until it commits, and a webhook must not wait
for that (a slow tick would stall the shop's webhooks). So the webhook applies the event only to
the member's entries it can lock at once (``FOR UPDATE SKIP LOCKED``) and, while the journey is
active and the member is in it, also leaves a :class:`~herald.journeys.models.JourneySignal`.
The tick applies the journey's signals before it commits: an entry the webhook skipped (the tick
was moving it), or one the tick had already read as due and written a ledger row for, then
leaves too and its queued message is cancelled. Applying a signal twice changes nothing: it only
touches entries that were active at the event (entered before it) and messages still pending.

The one window left: a webhook whose transaction commits after the tick that was moving its
member commits; the next tick applies its signal (cancelling the message if it is still queued).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.orm import Session, aliased

from herald.audiences.models import Event
from herald.campaigns import status as st
from herald.campaigns.models import Delivery, Run
from herald.journeys import triggers
from herald.journeys.models import Journey
from herald.journeys.models import JourneyEntry as E
from herald.journeys.models import JourneySignal as S
from herald.journeys.models import JourneyVisit as V
from herald.journeys.moves import move


def listens(definition: dict[str, Any], kind: str) -> bool:
    """Whether events of ``kind`` end or move a member of this journey (goal, wait_for)."""
    return kind in kinds_listened(definition)


def kinds_listened(definition: dict[str, Any]) -> set[str]:
    """The event types that end or move a member of this journey (goal, wait_for)."""
    kinds = set(definition.get("exit_on", []))
    kinds.update(s["event"] for s in definition["steps"] if s["type"] == "wait_for")
    return kinds


def on_event(session: Session, journey: Journey, event: Event, now: datetime) -> None:
    """Apply ``event`` to its member's entries in ``journey`` that no tick is moving now, and
    leave a signal for the tick when the journey is active."""
    assert event.contact_id is not None
    if not listens(journey.definition, event.type):
        return
    mine = and_(E.journey_id == journey.id, E.contact_id == event.contact_id, E.state == "active")
    free = session.scalars(select(E.id).where(mine).with_for_update(skip_locked=True)).all()
    # a plain read never waits; a member with no active entry is not one a tick is moving
    inside = free or session.scalar(select(exists().where(mine)))
    if journey.status == "active" and inside:
        session.add(
            S(journey_id=journey.id, contact_id=event.contact_id, event_type=event.type, at=now)
        )
        session.flush()
    if free:
        _apply(session, journey, event.type, E.id.in_(free), now, now)
    if event.type in journey.definition.get("exit_on", []):
        # messages already queued (also ledger rows written before triggers ran on journeys)
        cancel_queued(session, journey, Delivery.contact_id == event.contact_id, event.type)


def apply_pending(session: Session, journey: Journey, now: datetime) -> int:
    """The tick's part: apply the journey's signals (in its own transaction, so its own
    uncommitted ledger rows are seen) and delete them. Returns how many were applied."""
    rows = session.execute(
        select(S.id, S.event_type)
        .where(S.journey_id == journey.id)
        .with_for_update(skip_locked=True)
    ).all()
    if not rows:
        return 0
    for kind in sorted({kind for _, kind in rows}):
        ids = [sid for sid, k in rows if k == kind]
        heard = exists().where(S.id.in_(ids), S.contact_id == E.contact_id, S.at >= E.entered_at)
        first = select(func.min(S.at)).where(S.id.in_(ids), S.contact_id == E.contact_id)
        _apply(session, journey, kind, heard, first.scalar_subquery(), now)
        if kind in journey.definition.get("exit_on", []):
            # the messages of every entry there was when the goal came, also of one the tick
            # took to the end of its path meanwhile
            earlier = (
                select(V.delivery_id)
                .join(E, E.id == V.entry_id)
                .where(E.journey_id == journey.id, heard, V.delivery_id.is_not(None))
            )
            cancel_queued(session, journey, Delivery.id.in_(earlier), kind)
    session.execute(delete(S).where(S.id.in_([sid for sid, _ in rows])))
    return len(rows)


def _apply(
    session: Session, journey: Journey, kind: str, which: Any, heard_at: Any, now: datetime
) -> None:
    """End (goal) or move on (``wait_for``) the active entries ``which`` selects, the event
    having come at ``heard_at`` (a moment, or an expression per entry)."""
    definition = journey.definition
    mine = and_(E.journey_id == journey.id, E.state == "active", which)
    if kind in definition.get("exit_on", []):
        if journey.trigger_id is not None:
            triggers.record_cancelled(session, journey, mine, kind, now)
        session.execute(
            update(E)
            .where(mine)
            .values(state="exited", exit_reason=kind, wake_at=None, finished_at=now)
            .execution_options(synchronize_session=False)
        )
        return
    if journey.status != "active":
        return
    steps = {s["id"]: s for s in definition["steps"]}
    for step in steps.values():
        if step["type"] != "wait_for" or step["event"] != kind:
            continue
        here = aliased(V)
        # the member reached the step before the event (not moved there after it)
        arrived = exists().where(
            here.entry_id == E.id, here.step == step["id"], here.at <= heard_at
        )
        where = and_(mine, E.step == step["id"], arrived)
        move(session, journey.id, steps, where, step["id"], step["then"], now, "event")


def cancel_queued(session: Session, journey: Journey, whose: Any, kind: str) -> int:
    """A member who reached the goal gets none of the journey's messages still queued."""
    campaigns = list((journey.step_campaigns or {}).values())
    if not campaigns:
        return 0
    reason = (
        f"cancelled: {kind} came first"
        if journey.trigger_id is not None
        else f"cancelled: {kind} reached the journey's goal"
    )
    return session.execute(
        update(Delivery)
        .where(
            whose,
            Delivery.status == st.PENDING,
            Delivery.run_id.in_(select(Run.id).where(Run.campaign_id.in_(campaigns))),
        )
        .values(status=st.CANCELLED, reason=reason)
        .execution_options(synchronize_session=False)
    ).rowcount
