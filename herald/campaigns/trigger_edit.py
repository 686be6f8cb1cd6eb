"""Changing a trigger after it was created (the admin's edit form): the same checks as creation,
applied to the trigger and its campaign in place, so messages already waiting keep their rows and
go out with the new content."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences import segments
from herald.campaigns import service, triggers
from herald.campaigns.models import Trigger, Variant
from herald.core.errors import ValidationError

_invalid = triggers._invalid


def update_trigger(session: Session, trigger: Trigger, payload: Mapping[str, Any]) -> Trigger:
    """Replace the trigger's settings and variants with ``payload`` (the body of
    ``POST /triggers``). The channel stays: a trigger that should send elsewhere is a new one.
    Nothing is written when a value is wrong."""
    unknown = sorted(set(payload) - triggers.FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown field {unknown[0]!r}", {k: "unknown field" for k in unknown}
        )
    name = payload.get("name")
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise _invalid("name", "must be text of 1 to 200 characters")
    clash = session.scalar(
        select(Trigger.id).where(Trigger.name == name.strip(), Trigger.id != trigger.id)
    )
    if clash:
        raise _invalid("name", f"a trigger named {name.strip()!r} exists already")
    event = payload.get("event")
    if event not in triggers.EVENTS:
        raise _invalid("event", f"{event!r} is not one of {', '.join(triggers.EVENTS)}")
    cancel_on = payload.get("cancel_on")
    if cancel_on is not None and cancel_on not in triggers.EVENTS:
        raise _invalid("cancel_on", f"{cancel_on!r} is not one of {', '.join(triggers.EVENTS)}")
    delay = payload.get("delay_minutes", 0)
    if not triggers._finite(delay) or not 0 <= delay <= 525_600:
        raise _invalid("delay_minutes", "must be a number of minutes from 0 to 525600")
    most = payload.get("max_per_contact_days")
    limit = triggers.MAX_PER_CONTACT_DAYS
    if most is not None and (not triggers._finite(most) or not 0 <= most <= limit):
        raise _invalid("max_per_contact_days", f"must be a number of days from 0 to {limit}")
    channel = payload.get("channel", trigger.campaign.channel)
    if channel != trigger.campaign.channel:
        raise _invalid("channel", "a trigger's channel cannot change; create a new trigger")
    transactional = payload.get("transactional", False)
    if not isinstance(transactional, bool):
        raise _invalid("transactional", "must be true or false")
    rules = payload.get("filter")
    if rules is not None:
        segments.condition(rules, "filter")
    variants = service.check_variants(channel, payload.get("variants"))

    trigger.name = name.strip()
    trigger.event = event
    trigger.filter = rules or None
    trigger.delay_minutes = float(delay)
    trigger.cancel_on = cancel_on
    trigger.max_per_contact_days = None if most is None else float(most)
    trigger.transactional = transactional
    campaign = trigger.campaign
    campaign.name = f"Trigger: {trigger.name}"
    campaign.schedule = {**(campaign.schedule or {}), "transactional": transactional}
    _replace_variants(campaign.variants, variants, campaign)
    session.flush()
    return trigger


def _replace_variants(current: list[Variant], wanted: list[dict[str, Any]], campaign: Any) -> None:
    """Edit variants in place by position (waiting ledger rows point at them), add new ones and
    drop those no longer wanted."""
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
