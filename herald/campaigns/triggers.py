"""Triggers (contract section 10): a member's event schedules one message after a delay, unless a
cancelling event comes first.

A trigger's channel and variants live in a campaign of its own (``schedule.type == "trigger"``),
so its messages go through the same ledger, send policy and metrics as every broadcast. Each
firing writes one ledger row into the trigger's run of that UTC day (one row per member and run,
so at most one message per member per trigger per day) with ``not_before`` at the due time, and
a batch of its own that sleeps until then: no shared batch, so no race with a worker finishing
one while a new firing joins it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from herald.audiences import segments
from herald.audiences.models import Contact, Event
from herald.campaigns import service
from herald.campaigns import status as st
from herald.campaigns.models import Batch, Delivery, Run, Trigger
from herald.core import clock
from herald.core.errors import NotFound, ValidationError

EVENTS = (
    "customer.created",
    "customer.updated",
    "order.placed",
    "cart.abandoned",
    "points.changed",
    "tier.changed",
)
FIELDS = {
    "name",
    "event",
    "filter",
    "delay_minutes",
    "cancel_on",
    "channel",
    "variants",
    "max_per_contact_days",
    "transactional",
}


MAX_PER_CONTACT_DAYS = 36_600  # a hundred years: beyond it the date arithmetic overflows
# channels a trigger's per-member message cannot go through
NOT_FOR_TRIGGERS = {
    "social": "a social post has no per-member address",
    "member_day": "member-day benefits go out as a campaign to a segment",
}


def _finite(value: Any) -> bool:
    """A real number (not a bool), neither NaN nor infinite."""
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _invalid(field: str, message: str) -> ValidationError:
    return ValidationError(f"{field}: {message}", {field: message})


def create_trigger(session: Session, payload: Any, default_zone: ZoneInfo) -> Trigger:
    """Validate and store a trigger; it is active at once. Nothing is written when a value is
    wrong."""
    if not isinstance(payload, Mapping):
        raise _invalid("", "the body must be a JSON object")
    unknown = sorted(set(payload) - FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown field {unknown[0]!r}", {k: "unknown field" for k in unknown}
        )
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _invalid("name", "must be text of 1 to 200 characters")
    if session.scalar(select(Trigger.id).where(Trigger.name == name.strip())):
        raise _invalid("name", f"a trigger named {name.strip()!r} exists already")
    event = payload.get("event")
    if event not in EVENTS:
        raise _invalid("event", f"{event!r} is not one of {', '.join(EVENTS)}")
    cancel_on = payload.get("cancel_on")
    if cancel_on is not None and cancel_on not in EVENTS:
        raise _invalid("cancel_on", f"{cancel_on!r} is not one of {', '.join(EVENTS)}")
    delay = payload.get("delay_minutes", 0)
    if not _finite(delay) or not 0 <= delay <= 525_600:
        raise _invalid("delay_minutes", "must be a number of minutes from 0 to 525600")
    most = payload.get("max_per_contact_days")
    if most is not None and (not _finite(most) or not 0 <= most <= MAX_PER_CONTACT_DAYS):
        raise _invalid(
            "max_per_contact_days", f"must be a number of days from 0 to {MAX_PER_CONTACT_DAYS}"
        )
    channel = payload.get("channel")
    if isinstance(channel, str) and channel in NOT_FOR_TRIGGERS:
        raise _invalid("channel", f"a trigger cannot send {channel}: {NOT_FOR_TRIGGERS[channel]}")
    transactional = payload.get("transactional", False)
    if not isinstance(transactional, bool):
        raise _invalid("transactional", "must be true or false")
    rules = payload.get("filter")
    if rules is not None:
        segments.condition(rules, "filter")  # names an unknown field or operator
    campaign = service.create_campaign(
        session,
        {
            "name": f"Trigger: {name.strip()}",
            "channel": channel,
            "variants": payload.get("variants"),
        },
        default_zone,
    )
    trigger = Trigger(
        name=name.strip(),
        event=event,
        filter=rules,
        delay_minutes=float(delay),
        cancel_on=cancel_on,
        max_per_contact_days=None if most is None else float(most),
        transactional=transactional,
        campaign_id=campaign.id,
    )
    session.add(trigger)
    session.flush()
    campaign.schedule = {
        "type": "trigger",
        "trigger_id": trigger.id,
        "transactional": transactional,
    }
    campaign.status = "sending"
    session.flush()
    return trigger


def set_active(session: Session, trigger: Trigger, active: bool) -> Trigger:
    """Switch a trigger on or off; off also holds its messages that are waiting (the campaign is
    paused, and the reconciler leaves paused campaigns alone)."""
    trigger.active = active
    trigger.campaign.status = "sending" if active else "paused"
    session.flush()
    return trigger


def on_event(session: Session, event: Event) -> list[Delivery]:
    """Apply a stored member event: cancel the waiting messages it cancels, then fire the active
    triggers it starts. Runs in the caller's transaction."""
    if event.contact_id is None:
        return []
    # one read finds the triggers this event starts and those it cancels; the cancelling UPDATE
    # runs only when some trigger cancels on this event
    found = session.scalars(
        select(Trigger).where(
            or_(
                and_(Trigger.event == event.type, Trigger.active.is_(True)),
                Trigger.cancel_on == event.type,
            )
        )
    ).all()
    if any(t.cancel_on == event.type for t in found):
        cancel(session, event)
    fired = []
    for trigger in found:
        if trigger.event != event.type or not trigger.active:
            continue
        delivery = fire(session, trigger, event)
        if delivery is not None:
            fired.append(delivery)
    return fired


def cancel(session: Session, event: Event) -> int:
    """Cancel this member's waiting messages of every trigger with ``cancel_on`` = the event."""
    runs = (
        select(Run.id)
        .join(Trigger, Trigger.campaign_id == Run.campaign_id)
        .where(Trigger.cancel_on == event.type)
    )
    return session.execute(
        update(Delivery)
        .where(
            Delivery.contact_id == event.contact_id,
            Delivery.status == st.PENDING,
            Delivery.run_id.in_(runs),
            Delivery.not_before > event.occurred_at,
        )
        .values(
            status=st.CANCELLED,
            reason=f"cancelled: {event.type} came first",
            updated_at=clock.now(),
        )
    ).rowcount


def fire(session: Session, trigger: Trigger, event: Event) -> Delivery | None:
    """Schedule the trigger's message for the event's member, or nothing when the member is
    outside the filter or had one within ``max_per_contact_days``."""
    contact_id = event.contact_id
    assert contact_id is not None
    if trigger.filter:
        matches = session.scalar(
            select(exists(segments.members(trigger.filter).where(Contact.id == contact_id)))
        )
        if not matches:
            return None
    occurred = event.occurred_at or clock.now()
    due = occurred + timedelta(minutes=trigger.delay_minutes)
    if trigger.max_per_contact_days is not None and trigger.max_per_contact_days > 0:
        since = due - timedelta(days=trigger.max_per_contact_days)
        recent = session.scalar(
            select(
                exists().where(
                    Delivery.contact_id == contact_id,
                    Delivery.run_id.in_(
                        select(Run.id).where(Run.campaign_id == trigger.campaign_id)
                    ),
                    Delivery.not_before > since,
                    Delivery.status != st.CANCELLED,
                )
            )
        )
        if recent:
            return None
    run = _day_run(session, trigger.campaign_id, due)
    variant = trigger.campaign.variants[0]
    delivery = Delivery(
        run_id=run.id,
        contact_id=contact_id,
        variant_id=variant.id,
        batch_seq=0,
        status=st.PENDING,
        attempts=0,
        uncertain=False,
        not_before=due,
        data={"type": event.type, "event_id": event.id, **(event.data or {})},
    )
    try:
        with session.begin_nested():
            session.add(delivery)
            session.flush()
    except IntegrityError:
        # this member has this trigger's row for that day already: a cancelled one is revived
        # for the new event (an order cancelled the morning's reminder, a new cart came later)
        return _revive(session, run, contact_id, due, delivery.data or {})
    delivery.batch_seq = delivery.id
    session.add(Batch(run_id=run.id, seq=delivery.id, status="queued", lease_until=due))
    # increments in SQL: concurrent firings must not lose each other's counts
    session.execute(
        update(Run)
        .where(Run.id == run.id)
        .values(recipients=Run.recipients + 1, batches_total=Run.batches_total + 1)
    )
    session.flush()
    return delivery


def _revive(
    session: Session, run: Run, contact_id: int, due: datetime, data: dict[str, Any]
) -> Delivery | None:
    revived = session.execute(
        update(Delivery)
        .where(
            Delivery.run_id == run.id,
            Delivery.contact_id == contact_id,
            Delivery.status == st.CANCELLED,
        )
        .values(status=st.PENDING, not_before=due, data=data, reason=None, attempts=0)
        .returning(Delivery.id)
    ).scalar()
    if revived is None:
        return None
    session.execute(
        update(Batch)
        .where(Batch.run_id == run.id, Batch.seq == revived)
        .values(status="queued", lease_until=due, enqueued_at=None)
    )
    return session.get(Delivery, revived)


def _day_run(session: Session, campaign_id: int, due: datetime) -> Run:
    """The trigger's run for the UTC day of ``due``, created on first use."""
    day = datetime.combine(due.astimezone(UTC).date(), time(), tzinfo=UTC)
    found = session.scalar(select(Run).where(Run.campaign_id == campaign_id, Run.due_at == day))
    if found is not None:
        return found
    run = Run(campaign_id=campaign_id, status="sending", due_at=day, started_at=clock.now())
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:  # another firing created it at the same moment
        run = session.scalar(select(Run).where(Run.campaign_id == campaign_id, Run.due_at == day))
        assert run is not None
    return run


def get_trigger(session: Session, trigger_id: int) -> Trigger:
    trigger = session.get(Trigger, trigger_id)
    if trigger is None:
        raise NotFound(f"trigger {trigger_id} does not exist")
    return trigger
