"""Saving journeys: create (a draft), change, activate, pause. Each message step gets a campaign
of its own (``schedule.type == "journey"``) that carries its channel and variants, so its
messages share the ledger, send policy and metrics of every broadcast; the campaign is
``sending`` while the journey is active and ``paused`` otherwise (the reconciler leaves paused
campaigns' batches alone, so pausing holds messages already queued)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.audiences import segments
from herald.audiences.models import Segment
from herald.campaigns import promotions, service
from herald.campaigns.models import Campaign, Variant
from herald.core import clock
from herald.core.errors import Conflict, NotFound, ValidationError
from herald.journeys import graph, segment_entry
from herald.journeys.models import Journey, JourneyEntry


def check(session: Session, payload: Any) -> dict[str, Any]:
    """The whole definition checked, segment rules compiled and segment ids looked up (a
    ``promotion_id`` beside it is checked too, and kept out of the definition)."""
    payload, _, _ = _promotion(session, payload)
    definition = graph.check(payload)
    entry = definition["entry"]
    if entry.get("filter") is not None:
        segments.validate(entry["filter"], "entry.filter")
    if "segment_id" in entry and session.get(Segment, entry["segment_id"]) is None:
        raise graph.invalid("entry.segment_id", f"segment {entry['segment_id']} does not exist")
    for step in definition["steps"]:
        condition = step.get("condition")
        if condition is not None and "step" not in condition:
            segments.validate(condition, f"steps.{step['id']}.condition")
        if step["type"] == "message":
            try:
                step["variants"] = service.check_variants(step["channel"], step["variants"])
            except ValidationError as exc:
                field = f"steps.{step['id']}.{next(iter(exc.fields), 'variants')}"
                raise ValidationError(
                    f"step {step['id']!r}: {exc.message}", {field: exc.message}
                ) from exc
    return definition


def _promotion(session: Session, payload: Any) -> tuple[Any, bool, int | None]:
    """The body without ``promotion_id`` (not part of the definition), whether it was given, and
    its checked value."""
    if not isinstance(payload, Mapping) or "promotion_id" not in payload:
        return payload, False, None
    rest = {k: v for k, v in payload.items() if k != "promotion_id"}
    return rest, True, promotions.check_id(session, payload["promotion_id"])


def create(session: Session, payload: Any, zone: ZoneInfo) -> Journey:
    """Store a checked journey as a draft, with a campaign per message step."""
    payload, _, promotion_id = _promotion(session, payload)
    definition = check(session, payload)
    if session.scalar(select(Journey.id).where(Journey.name == definition["name"])):
        raise graph.invalid("name", f"a journey named {definition['name']!r} exists already")
    journey = Journey(
        name=definition["name"], status="draft", definition=definition, promotion_id=promotion_id
    )
    session.add(journey)
    session.flush()
    journey.step_campaigns = _sync_campaigns(session, journey, definition, zone)
    session.flush()
    return journey


def update(session: Session, journey: Journey, changes: Any, zone: ZoneInfo) -> Journey:
    """Replace the fields given. Members keep the step they are at: a step they wait on may
    change its content, but an active journey cannot lose a step someone is at."""
    if not isinstance(changes, Mapping):
        raise graph.invalid("", "the body must be a JSON object")
    changes, given, promotion_id = _promotion(session, changes)
    if given:
        journey.promotion_id = promotion_id
    current = {k: v for k, v in journey.definition.items()}
    definition = check(session, {**current, **changes})
    if definition["name"] != journey.name and session.scalar(
        select(Journey.id).where(Journey.name == definition["name"], Journey.id != journey.id)
    ):
        raise graph.invalid("name", f"a journey named {definition['name']!r} exists already")
    kept = {s["id"] for s in definition["steps"]}
    occupied = session.scalars(
        select(JourneyEntry.step)
        .where(JourneyEntry.journey_id == journey.id, JourneyEntry.state == "active")
        .distinct()
    ).all()
    lost = sorted(set(occupied) - kept)
    if lost:
        raise graph.invalid(
            f"steps.{lost[0]}", f"step {lost[0]!r}: members are at this step; keep it"
        )
    if definition["entry"] != journey.definition.get("entry"):
        segment_entry.forget(session, journey)  # a new segment is watched from its members now
    journey.name = definition["name"]
    journey.definition = definition
    journey.step_campaigns = _sync_campaigns(session, journey, definition, zone)
    journey.updated_at = clock.now()
    session.flush()
    return journey


def _with_step_coupon(step: Mapping[str, Any]) -> list[dict[str, Any]]:
    """The step's variants, each carrying the step's ``coupon`` unless it has its own: the send
    path issues a code per delivery of any variant with one."""
    coupon = step.get("coupon")
    if coupon is None:
        return [dict(v) for v in step["variants"]]
    return [{"coupon": coupon, **v} for v in step["variants"]]


def _sync_campaigns(
    session: Session, journey: Journey, definition: dict[str, Any], zone: ZoneInfo
) -> dict[str, int]:
    """A campaign per message step: new steps get one, kept steps get their variants updated
    in place (by name, so ledger rows keep pointing at them)."""
    mapping = dict(journey.step_campaigns or {})
    out: dict[str, int] = {}
    for step in definition["steps"]:
        if step["type"] != "message":
            continue
        variants = _with_step_coupon(step)
        campaign = session.get(Campaign, mapping[step["id"]]) if step["id"] in mapping else None
        if campaign is not None and campaign.channel != step["channel"]:
            raise graph.invalid(
                f"steps.{step['id']}.channel",
                f"step {step['id']!r}: a message step's channel cannot change; add a new step",
            )
        if campaign is None:
            campaign = service.create_campaign(
                session,
                {
                    "name": f"Journey {journey.id}: {step['id']}"[:200],
                    "channel": step["channel"],
                    "variants": variants,
                },
                zone,
            )
        else:
            by_name = {v.name: v for v in campaign.variants}
            for position, variant in enumerate(variants):
                content = {k: v for k, v in variant.items() if k != "name"}
                if variant["name"] in by_name:
                    by_name[variant["name"]].content = content
                    by_name[variant["name"]].position = position
                else:
                    campaign.variants.append(
                        Variant(name=variant["name"], position=position, content=content)
                    )
        campaign.schedule = {
            "type": "journey",
            "journey_id": journey.id,
            "step": step["id"],
            "transactional": step["transactional"],
        }
        campaign.status = "sending" if journey.status == "active" else "paused"
        # the steps' messages count for the journey's promotion and see it in templates
        campaign.promotion_id = journey.promotion_id
        out[step["id"]] = campaign.id
    session.flush()
    return out


def activate(session: Session, journey: Journey) -> Journey:
    """Start (or resume) a journey: entries are taken and members move on."""
    if journey.status == "active":
        raise Conflict("the journey is active already")
    return _set_status(session, journey, "active")


def pause(session: Session, journey: Journey) -> Journey:
    """Hold a journey: no new entries, members stay where they are, queued messages wait."""
    if journey.status != "active":
        raise Conflict(f"only an active journey can be paused; this one is {journey.status}")
    return _set_status(session, journey, "paused")


def _set_status(session: Session, journey: Journey, status: str) -> Journey:
    journey.status = status
    if status == "active" and journey.activated_at is None:
        journey.activated_at = clock.now()
    for campaign_id in (journey.step_campaigns or {}).values():
        campaign = session.get(Campaign, campaign_id)
        if campaign is not None:
            campaign.status = "sending" if status == "active" else "paused"
    session.flush()
    return journey


def get(session: Session, journey_id: int) -> Journey:
    """The journey, or a 404."""
    journey = session.get(Journey, journey_id)
    # a trigger's journey is read and changed through /triggers
    if journey is None or journey.trigger_id is not None:
        raise NotFound(f"journey {journey_id} does not exist")
    return journey
