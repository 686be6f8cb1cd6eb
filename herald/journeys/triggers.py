"""Triggers (contract section 10) on the journey engine: a trigger is a journey with one wait and
one message (contract section 14).

``POST /triggers`` keeps its shape; behind it each trigger owns a journey (``trigger_id`` set,
kept out of the journey lists) whose entry is the trigger's event and filter, whose steps are a
wait of ``delay_minutes`` (none for 0) and a message step ``send`` carried by the trigger's
campaign (``schedule.type == "trigger"``, so ``/triggers/{id}/stats`` and the weekly report read
the same ledger), and whose ``exit_on`` is ``cancel_on``. A member is in a trigger at most once
at a time: a second event while their message waits starts nothing (the journey rule that one
member has one active entry). ``max_per_contact_days`` = N is ``re_entry: {"after_days": N,
"count_exits": false}``: no new firing within N days of the last one that was not cancelled;
without it ``re_entry`` is ``after_exit``. There is no per-UTC-day limit any more.

A firing that ``cancel_on`` stops before its message was written still gets its ledger row,
``cancelled: <event> came first``, so a trigger's numbers (recipients = firings, cancelled) mean
what they did.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import and_, exists, func, insert, literal, select, update
from sqlalchemy.orm import Session

from herald.audiences import segments
from herald.campaigns import service
from herald.campaigns import status as st
from herald.campaigns.models import Campaign, Delivery, Run, Trigger, Variant
from herald.core import clock
from herald.core.errors import NotFound, ValidationError
from herald.journeys import graph, messages
from herald.journeys.models import Journey
from herald.journeys.models import JourneyEntry as E
from herald.journeys.models import JourneyVisit as V
from herald.journeys.moves import move

EVENTS = graph.SHOP_EVENTS
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
SEND = "send"  # the message step's id
LEDGER_COLUMNS = [
    "run_id",
    "contact_id",
    "variant_id",
    "batch_seq",
    "status",
    "reason",
    "attempts",
    "uncertain",
    "data",
]
MAX_DELAY = 525_600
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


def check(session: Session, payload: Any, current: Trigger | None = None) -> dict[str, Any]:
    """The trigger body checked (contract section 10); nothing is written. ``current`` is the
    trigger being edited (its own name is no clash, and its channel stays)."""
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
    clash = select(Trigger.id).where(Trigger.name == name.strip())
    if current is not None:
        clash = clash.where(Trigger.id != current.id)
    if session.scalar(clash):
        raise _invalid("name", f"a trigger named {name.strip()!r} exists already")
    event = payload.get("event")
    if event not in EVENTS:
        raise _invalid("event", f"{event!r} is not one of {', '.join(EVENTS)}")
    cancel_on = payload.get("cancel_on")
    if cancel_on is not None and cancel_on not in EVENTS:
        raise _invalid("cancel_on", f"{cancel_on!r} is not one of {', '.join(EVENTS)}")
    delay = payload.get("delay_minutes", 0)
    if not _finite(delay) or not 0 <= delay <= MAX_DELAY:
        raise _invalid("delay_minutes", f"must be a number of minutes from 0 to {MAX_DELAY}")
    most = payload.get("max_per_contact_days")
    if most is not None and (not _finite(most) or not 0 <= most <= MAX_PER_CONTACT_DAYS):
        raise _invalid(
            "max_per_contact_days", f"must be a number of days from 0 to {MAX_PER_CONTACT_DAYS}"
        )
    channel = payload.get("channel", current.campaign.channel if current else None)
    if isinstance(channel, str) and channel in NOT_FOR_TRIGGERS:
        raise _invalid("channel", f"a trigger cannot send {channel}: {NOT_FOR_TRIGGERS[channel]}")
    if current is not None and channel != current.campaign.channel:
        raise _invalid("channel", "a trigger's channel cannot change; create a new trigger")
    transactional = payload.get("transactional", False)
    if not isinstance(transactional, bool):
        raise _invalid("transactional", "must be true or false")
    rules = payload.get("filter")
    if rules is not None:
        segments.condition(rules, "filter")  # names an unknown field or operator
    return {
        "name": name.strip(),
        "event": event,
        "filter": rules or None,
        "delay_minutes": float(delay),
        "cancel_on": cancel_on,
        "max_per_contact_days": None if most is None else float(most),
        "channel": channel,
        "variants": payload.get("variants"),
        "transactional": transactional,
    }


def definition(trigger: Trigger, variants: list[dict[str, Any]]) -> dict[str, Any]:
    """The journey a trigger is (contract section 14's JSON)."""
    send = {
        "id": SEND,
        "type": "message",
        "channel": trigger.campaign.channel,
        "variants": variants,
        "transactional": trigger.transactional,
        "next": graph.EXIT,
    }
    steps: list[dict[str, Any]] = [send]
    if trigger.delay_minutes > 0:
        steps = [{"id": "wait", "type": "wait", "minutes": trigger.delay_minutes, "next": SEND}]
        steps.append(send)
    most = trigger.max_per_contact_days
    return {
        "name": f"Trigger #{trigger.id}: {trigger.name}"[:200],
        "entry": {"event": trigger.event, "filter": trigger.filter},
        "exit_on": [trigger.cancel_on] if trigger.cancel_on else [],
        "re_entry": {"after_days": most, "count_exits": False} if most else "after_exit",
        "holdout": 0.0,
        "steps": steps,
    }


def create_trigger(session: Session, payload: Any, default_zone: ZoneInfo) -> Trigger:
    """Validate and store a trigger and its journey; it is active at once. Nothing is written
    when a value is wrong."""
    values = check(session, payload)
    campaign = service.create_campaign(
        session,
        {
            "name": f"Trigger: {values['name']}",
            "channel": values["channel"],
            "variants": values["variants"],
        },
        default_zone,
    )
    trigger = Trigger(
        **{k: v for k, v in values.items() if k not in ("channel", "variants")},
        campaign_id=campaign.id,
    )
    session.add(trigger)
    session.flush()
    campaign.schedule = {
        "type": "trigger",
        "trigger_id": trigger.id,
        "transactional": trigger.transactional,
    }
    campaign.status = "sending"
    session.flush()
    now = clock.now()
    journey = Journey(
        name=f"Trigger #{trigger.id}",
        status="active",
        definition={},
        step_campaigns={SEND: campaign.id},
        trigger_id=trigger.id,
        activated_at=now,
    )
    session.add(journey)
    _sync(session, trigger, journey)
    return trigger


def update_trigger(session: Session, trigger: Trigger, payload: Mapping[str, Any]) -> Trigger:
    """Replace the trigger's settings and variants with ``payload`` (the body of
    ``POST /triggers``). The channel stays: a trigger that should send elsewhere is a new one.
    Members waiting keep their place; messages already queued go out with the new content.
    Nothing is written when a value is wrong."""
    values = check(session, payload, trigger)
    variants = service.check_variants(values["channel"], values["variants"])
    for key, value in values.items():
        if key not in ("channel", "variants"):
            setattr(trigger, key, value)
    campaign = trigger.campaign
    campaign.name = f"Trigger: {trigger.name}"
    campaign.schedule = {**(campaign.schedule or {}), "transactional": trigger.transactional}
    _replace_variants(campaign, variants)
    journey = journey_of(session, trigger)
    _sync(session, trigger, journey)
    # members waiting on a delay that is dropped (set to 0) move on to the message now; a
    # changed delay keeps the wake-up they have, as an edited journey keeps members in place
    if trigger.delay_minutes <= 0:
        waiting = and_(E.journey_id == journey.id, E.state == "active", E.step == "wait")
        steps = {s["id"]: s for s in journey.definition["steps"]}
        move(session, journey.id, steps, waiting, "wait", SEND, clock.now())
    return trigger


def _sync(session: Session, trigger: Trigger, journey: Journey) -> None:
    """The journey follows the trigger: its definition, and its status from ``active``."""
    session.flush()
    variants = [{"name": v.name, **v.content} for v in trigger.campaign.variants]
    journey.definition = definition(trigger, variants)
    journey.name = f"Trigger #{trigger.id}"
    journey.status = "active" if trigger.active else "paused"
    journey.updated_at = clock.now()
    session.flush()


def _replace_variants(campaign: Campaign, wanted: list[dict[str, Any]]) -> None:
    """Edit variants in place by position (waiting ledger rows point at them), add new ones and
    drop those no longer wanted."""
    current = campaign.variants
    for position, variant in enumerate(wanted):
        content = {k: v for k, v in variant.items() if k != "name"}
        if position < len(current):
            current[position].name = variant["name"]
            current[position].content = content
        else:
            campaign.variants.append(
                Variant(name=variant["name"], position=position, content=content)
            )
    for extra in list(current[len(wanted) :]):
        campaign.variants.remove(extra)


def set_active(session: Session, trigger: Trigger, active: bool) -> Trigger:
    """Switch a trigger on or off; off takes no new members and holds its messages that are
    waiting (journey and campaign paused; members keep their place)."""
    trigger.active = active
    trigger.campaign.status = "sending" if active else "paused"
    _sync(session, trigger, journey_of(session, trigger))
    return trigger


def journey_of(session: Session, trigger: Trigger) -> Journey:
    """The trigger's journey."""
    journey = session.scalar(select(Journey).where(Journey.trigger_id == trigger.id))
    assert journey is not None, f"trigger {trigger.id} has no journey"
    return journey


def get_trigger(session: Session, trigger_id: int) -> Trigger:
    """The trigger, or a 404."""
    trigger = session.get(Trigger, trigger_id)
    if trigger is None:
        raise NotFound(f"trigger {trigger_id} does not exist")
    return trigger


def record_cancelled(
    session: Session, journey: Journey, leaving: Any, kind: str, now: datetime
) -> int:
    """Give each firing that ``kind`` stops before its message was written (the entries
    ``leaving`` selects) a cancelled ledger row in the message's campaign."""
    campaign_id = (journey.step_campaigns or {}).get(SEND)
    campaign = session.get(Campaign, campaign_id) if campaign_id else None
    if campaign is None or not campaign.variants:
        return 0
    written = exists().where(
        V.entry_id == E.id,
        V.step == SEND,
        (V.delivery_id.is_not(None)) | (V.outcome.is_not(None)),
    )
    stopped = and_(leaving, ~written)
    if not session.scalar(select(exists().where(stopped))):
        return 0
    run = messages.run_at(session, campaign.id, now)
    taken = exists().where(Delivery.run_id == run.id, Delivery.contact_id == E.contact_id)
    before = session.scalar(select(func.count()).where(Delivery.run_id == run.id)) or 0
    session.execute(
        insert(Delivery).from_select(
            LEDGER_COLUMNS,
            select(
                literal(run.id),
                E.contact_id,
                literal(campaign.variants[0].id),
                literal(0),
                literal(st.CANCELLED),
                literal(f"cancelled: {kind} came first"),
                literal(0),
                literal(False),
                E.data,
            ).where(stopped, ~taken),
        )
    )
    count = (session.scalar(select(func.count()).where(Delivery.run_id == run.id)) or 0) - before
    done = Run.batches_total == 0
    session.execute(
        update(Run)
        .where(Run.id == run.id)
        .values(recipients=Run.recipients + count)
        .execution_options(synchronize_session=False)
    )
    # a run that only records cancellations has nothing to send: it ends at once
    session.execute(
        update(Run)
        .where(Run.id == run.id, done)
        .values(status=st.CANCELLED, finished_at=now)
        .execution_options(synchronize_session=False)
    )
    session.expire(run)
    return count
