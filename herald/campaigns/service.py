"""Creating campaigns and moving them through their statuses (what the API, admin and CLI call)."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from herald.audiences.models import Segment
from herald.campaigns import coupon_specs, promotions, schedules, status, workspace
from herald.campaigns.measurable import check_measurable
from herald.campaigns.models import Batch, Campaign, Delivery, Run, Variant
from herald.campaigns.senders import SENDERS, sender_class
from herald.core import clock
from herald.core.errors import Conflict, NotFound, ValidationError

CAMPAIGN_FIELDS = {
    "name",
    "channel",
    "segment_id",
    "variants",
    "ab_test",
    "schedule",
    "promotion_id",
}
VARIANT_KEYS = {"name"}
MAX_ID = 2_147_483_647  # the largest id an INTEGER column holds


def _require(payload: Mapping[str, Any], key: str, kind: type, label: str) -> Any:
    value = payload.get(key)
    if value is None:
        raise ValidationError(f"{key} is required", {key: "required"})
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValidationError(f"{key} must be {label}", {key: f"must be {label}"})
    return value


def check_variants(channel: str, variants: Any) -> list[dict[str, Any]]:
    """Check every variant's fields and compile its templates; problems name the variant,
    field and line (``variants[1].html``)."""
    if not isinstance(variants, list) or not variants:
        raise ValidationError("variants must be a non-empty list", {"variants": "required"})
    cls = sender_class(channel)
    problems: dict[str, str] = {}
    names: set[str] = set()
    out: list[dict[str, Any]] = []
    for index, variant in enumerate(variants):
        where = f"variants[{index}]"
        if not isinstance(variant, Mapping):
            problems[where] = "must be an object"
            continue
        name = variant.get("name") or chr(ord("A") + index)
        if not isinstance(name, str) or len(name) > 40:
            problems[f"{where}.name"] = "must be text of at most 40 characters"
            continue
        if name in names:
            problems[f"{where}.name"] = f"variant name {name!r} is used twice"
        names.add(name)
        content = {k: v for k, v in variant.items() if k != "name"}
        for field, problem in cls(_SETTINGS_FOR_CHECKS).check_variant(content).items():
            problems[f"{where}.{field}"] = f"variant {name}: {problem}"
        if "coupon" in content:
            problem = _coupon_problem(channel, content, where, name)
            if problem:
                problems.update(problem)
        out.append({"name": name, **content})
    if problems:
        first = next(iter(problems.items()))
        raise ValidationError(f"{first[0]}: {first[1]}", problems)
    return out


COUPON_CHANNELS = ("email", "sms")


def _coupon_problem(
    channel: str, content: dict[str, Any], where: str, name: str
) -> dict[str, str] | None:
    """Check (and clean in place) a variant's ``coupon``; the problem keyed by its field."""
    if channel not in COUPON_CHANNELS:
        return {
            f"{where}.coupon": f"variant {name}: a {channel} message carries no coupon"
            + (" (member days give theirs in benefits)" if channel == "member_day" else "")
        }
    try:
        content["coupon"] = coupon_specs.check(content["coupon"], "coupon", now=clock.now())
    except ValidationError as exc:
        field, problem = next(iter(exc.fields.items()))
        return {f"{where}.{field}": f"variant {name}: {field}: {problem}"}
    return None


class _CheckSettings:
    """Channels' ``check_variant`` reads no setting; this stands in so it needs none."""

    def __getattr__(self, name: str) -> Any:
        return None


_SETTINGS_FOR_CHECKS: Any = _CheckSettings()


def create_campaign(session: Session, payload: Any, default_zone: ZoneInfo) -> Campaign:
    """Validate a campaign (contract section 8) and store it as a draft. Nothing is half-written:
    every check runs before the first row is added."""
    values = clean_campaign(session, payload, default_zone)
    workspace.refuse_past(values["schedule"])
    campaign = Campaign(status="draft", **{k: v for k, v in values.items() if k != "variants"})
    _set_variants(campaign, values["variants"])
    session.add(campaign)
    session.flush()
    return campaign


def update_campaign(
    session: Session, campaign: Campaign, changes: Any, default_zone: ZoneInfo
) -> Campaign:
    """Change a draft: the fields given replace the stored ones (``variants`` as a whole list),
    after the same checks as creation. Other statuses are a conflict."""
    if isinstance(changes, Mapping) and set(changes) == {"promotion_id"}:
        # which promotion a campaign counts for may change whatever it has sent
        campaign.promotion_id = promotions.check_id(session, changes["promotion_id"])
        session.flush()
        return campaign
    if campaign.status != "draft":
        raise Conflict(f"only a draft can be changed; this campaign is {campaign.status}")
    if not isinstance(changes, Mapping):
        raise ValidationError("the body must be a JSON object", {"": "must be an object"})
    current = {
        "name": campaign.name,
        "channel": campaign.channel,
        "segment_id": campaign.segment_id,
        "variants": [{"name": v.name, **v.content} for v in campaign.variants],
        "schedule": campaign.schedule,
        "ab_test": campaign.ab_test,
        "promotion_id": campaign.promotion_id,
    }
    if "channel" in changes and changes["channel"] != campaign.channel:
        raise ValidationError("a campaign's channel cannot change", {"channel": "fixed"})
    values = clean_campaign(session, {**current, **changes}, default_zone)
    if "schedule" in changes and values["schedule"] != campaign.schedule:
        workspace.refuse_past(values["schedule"])
    for key, value in values.items():
        if key != "variants":
            setattr(campaign, key, value)
    if "variants" in changes:
        campaign.variants.clear()
        session.flush()
        _set_variants(campaign, values["variants"])
    session.flush()
    return campaign


def _set_variants(campaign: Campaign, variants: list[dict[str, Any]]) -> None:
    for position, variant in enumerate(variants):
        content = {k: v for k, v in variant.items() if k != "name"}
        campaign.variants.append(Variant(name=variant["name"], position=position, content=content))


def clean_campaign(session: Session, payload: Any, default_zone: ZoneInfo) -> dict[str, Any]:
    """Every check of a campaign payload; returns the cleaned values or raises
    :class:`ValidationError` naming the field."""
    if not isinstance(payload, Mapping):
        raise ValidationError("the body must be a JSON object", {"": "must be an object"})
    unknown = sorted(set(payload) - CAMPAIGN_FIELDS)
    if unknown:
        raise ValidationError(
            f"unknown field {unknown[0]!r}", {k: "unknown field" for k in unknown}
        )
    name = _require(payload, "name", str, "text").strip()
    if not name or len(name) > 200:
        raise ValidationError("name must be 1 to 200 characters", {"name": "1 to 200 characters"})
    channel = _require(payload, "channel", str, "text")
    if channel not in SENDERS:
        sender_class(channel)
    segment_id = payload.get("segment_id")
    cls = sender_class(channel)
    if segment_id is not None:
        if not isinstance(segment_id, int) or isinstance(segment_id, bool):
            raise ValidationError("segment_id must be a whole number", {"segment_id": "not an id"})
        if not 1 <= segment_id <= MAX_ID:
            raise ValidationError(
                f"segment {segment_id} does not exist", {"segment_id": "no such segment"}
            )
        if session.get(Segment, segment_id) is None:
            raise ValidationError(
                f"segment {segment_id} does not exist", {"segment_id": "no such segment"}
            )
    if segment_id is not None and cls.address is None:
        raise ValidationError(
            f"a {channel} campaign has no segment", {"segment_id": f"not used by {channel}"}
        )
    variants = check_variants(channel, payload.get("variants"))
    workspace.check_bounds(variants)
    schedule = schedules.validate(payload.get("schedule"), default_zone)
    if schedule["type"] == "smart" and schedules.day_over(schedule, clock.now()):
        raise ValidationError(
            f"schedule.date: {schedule['date']} is already over everywhere; choose a later day",
            {"schedule.date": "in the past: choose a later day"},
        )
    ab_test = payload.get("ab_test")
    if ab_test is not None:
        ab_test = check_ab_test(ab_test, [v["name"] for v in variants])
        check_measurable(channel, ab_test)
    return {
        "name": name,
        "channel": channel,
        "segment_id": segment_id,
        "promotion_id": promotions.check_id(session, payload.get("promotion_id")),
        "schedule": schedule,
        "ab_test": ab_test,
        "variants": variants,
    }


def check_ab_test(ab_test: Any, variant_names: list[str]) -> dict[str, Any]:
    """Check the ``ab_test`` block of a campaign."""
    if not isinstance(ab_test, Mapping):
        raise ValidationError("ab_test must be an object", {"ab_test": "must be an object"})
    allowed = {"test_fraction", "metric", "decide_after_hours", "confidence", "fallback"}
    unknown = sorted(set(ab_test) - allowed)
    if unknown:
        raise ValidationError(
            f"ab_test.{unknown[0]} is not a field", {f"ab_test.{unknown[0]}": "unknown"}
        )
    fraction = ab_test.get("test_fraction", 0.2)
    if (
        not isinstance(fraction, int | float)
        or isinstance(fraction, bool)
        or not math.isfinite(fraction)
        or not 0 < fraction <= 1
    ):
        raise ValidationError(
            "ab_test.test_fraction must be in (0, 1]", {"ab_test.test_fraction": "0 < x ≤ 1"}
        )
    metric = ab_test.get("metric", "click_rate")
    if metric not in ("open_rate", "click_rate", "conversion_rate", "revenue"):
        raise ValidationError(
            f"ab_test.metric {metric!r} is not known", {"ab_test.metric": "unknown metric"}
        )
    hours = ab_test.get("decide_after_hours", 4)
    if (
        not isinstance(hours, int | float)
        or isinstance(hours, bool)
        or not math.isfinite(hours)
        or not 0 <= hours <= 720
    ):
        raise ValidationError(
            "ab_test.decide_after_hours must be a number of hours from 0 to 720",
            {"ab_test.decide_after_hours": "0 ≤ x ≤ 720"},
        )
    confidence = ab_test.get("confidence", 0.95)
    if (
        not isinstance(confidence, int | float)
        or isinstance(confidence, bool)
        or not math.isfinite(confidence)
        or not 0.5 <= confidence < 1
    ):
        raise ValidationError(
            "ab_test.confidence must be in [0.5, 1)", {"ab_test.confidence": "0.5 ≤ x < 1"}
        )
    fallback = ab_test.get("fallback", variant_names[0])
    if fallback not in variant_names:
        raise ValidationError(
            f"ab_test.fallback {fallback!r} is not a variant",
            {"ab_test.fallback": "no such variant"},
        )
    if len(variant_names) < 2:
        raise ValidationError(
            "an A/B test needs at least two variants", {"variants": "at least two"}
        )
    return {
        "test_fraction": float(fraction),
        "metric": metric,
        "decide_after_hours": float(hours),
        "confidence": float(confidence),
        "fallback": fallback,
    }


def get_campaign(session: Session, campaign_id: int) -> Campaign:
    campaign = session.get(Campaign, campaign_id)
    if campaign is None:
        raise NotFound(f"campaign {campaign_id} does not exist")
    return campaign


def _transition(
    session: Session, campaign: Campaign, action: str, new_status: str, **values: Any
) -> None:
    """Move the campaign if its status, read in the same statement, allows ``action`` (so a tick
    that moved it meanwhile cannot make the request a silent no-op)."""
    status.check_action(action, campaign.status)
    changed = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status.in_(status.ACTIONS[action]))
        # whatever a person does next, Herald's own reason for a pause no longer applies
        .values(status=new_status, updated_at=clock.now(), pause_reason=None, **values)
    ).rowcount
    session.refresh(campaign)
    if changed != 1:
        status.check_action(action, campaign.status)
        raise Conflict(f"the campaign changed meanwhile; it is {campaign.status}")


def arm(session: Session, campaign: Campaign, default_zone: ZoneInfo) -> Campaign:
    """``/schedule``: arm the stored schedule; the scheduler's tick starts it when due."""
    _refuse_trigger(campaign)
    if campaign.status == "paused" and _active_run(session, campaign) is not None:
        return resume(session, campaign)
    now = clock.now()
    due = schedules.next_due(campaign.schedule, now, default_zone)
    if due is None:
        raise ValidationError("the schedule never falls due again", {"schedule": "in the past"})
    kind = campaign.schedule.get("type")
    # a per-member send is still on while the latest zone has not reached its moment
    last = schedules.last_moment(campaign.schedule, due)
    if kind in ("once", *schedules.PER_MEMBER) and last < now - timedelta(minutes=1):
        field = "schedule.at" if kind == "once" else "schedule.date"
        raise ValidationError(
            f"{field} is in the past; change it or use send-now", {field: "in the past"}
        )
    _transition(session, campaign, "schedule", "scheduled", next_run_at=due)
    return campaign


def send_now(session: Session, campaign: Campaign) -> Campaign:
    """``/send-now``: due at once; the next tick (within a second) starts the run."""
    _refuse_trigger(campaign)
    if campaign.status == "paused" and _active_run(session, campaign) is not None:
        return resume(session, campaign)
    _transition(session, campaign, "send-now", "scheduled", next_run_at=clock.now())
    return campaign


def _refuse_trigger(campaign: Campaign) -> None:
    """A trigger's campaign is started by its events, never by /schedule or /send-now."""
    if (campaign.schedule or {}).get("type") == "trigger":
        raise Conflict(
            "a trigger's campaign is started by its events; switch the trigger on or off instead",
            {"status": campaign.status},
        )


def pause(session: Session, campaign: Campaign) -> Campaign:
    """Stop handing messages out; workers finish the message in hand and leave the rest."""
    _transition(session, campaign, "pause", "paused")
    return campaign


def resume(session: Session, campaign: Campaign) -> Campaign:
    """Continue a paused campaign: its unfinished run goes on, or its schedule is re-armed."""
    run = _active_run(session, campaign)
    if run is None:
        finished = session.scalar(
            select(Run.id)
            .where(Run.campaign_id == campaign.id, Run.status.in_(("sent", "failed")))
            .limit(1)
        )
        schedule = campaign.schedule or {}
        if finished is not None and schedule.get("type") == "recurring":
            # its run ended while it was paused: on to the next occurrence
            zone = ZoneInfo(schedule.get("timezone") or "UTC")
            due = schedules.next_due(schedule, clock.now(), zone)
            _transition(session, campaign, "resume", "scheduled", next_run_at=due)
        elif finished is not None and campaign.next_run_at is None:
            _transition(session, campaign, "resume", "sent")  # nothing left to send
        else:
            _transition(session, campaign, "resume", "scheduled")
        return campaign
    _transition(session, campaign, "resume", "testing" if run.status == "testing" else "sending")
    # batches are re-enqueued by the next tick (enqueue after commit)
    session.execute(
        update(Batch)
        .where(Batch.run_id == run.id, Batch.status == "queued")
        .values(enqueued_at=None)
    )
    return campaign


def cancel(session: Session, campaign: Campaign) -> Campaign:
    """Cancel: no further message goes out; what was sent stays recorded. Rows waiting for a
    later moment (local time, retries, an A/B decision) are cancelled now, and their batches
    woken so the run closes."""
    _transition(session, campaign, "cancel", "cancelled", next_run_at=None)
    active = select(Run.id).where(
        Run.campaign_id == campaign.id, Run.status.in_(("sending", "testing"))
    )
    session.execute(
        update(Delivery)
        .where(Delivery.run_id.in_(active), Delivery.status.in_((status.PENDING, status.HELD)))
        .values(status=status.CANCELLED, reason="campaign cancelled", updated_at=clock.now())
    )
    session.execute(
        update(Batch)
        .where(Batch.run_id.in_(active), Batch.status.in_(("queued", "held")))
        .values(status="queued", lease_until=None, enqueued_at=None)
    )
    session.execute(
        update(Run).where(Run.id.in_(active), Run.status == "testing").values(status="sending")
    )
    return campaign


def _active_run(session: Session, campaign: Campaign) -> Run | None:
    return (
        session.query(Run)
        .filter(Run.campaign_id == campaign.id, Run.status.in_(("sending", "testing")))
        .order_by(Run.id.desc())
        .first()
    )


def resend_uncertain(session: Session, campaign: Campaign) -> int:
    """A person's decision to hand off again the deliveries whose outcome was unknown after a
    worker died (kept ``uncertain`` by channels where a duplicate costs, such as SMS). They stay
    flagged uncertain; returns how many were released."""
    runs = list(session.scalars(select(Run).where(Run.campaign_id == campaign.id)))
    released = 0
    for run in runs:
        count = session.execute(
            update(Delivery)
            .where(Delivery.run_id == run.id, Delivery.status == status.UNCERTAIN)
            .values(status=status.PENDING, reason="handed off again by a person", not_before=None)
        ).rowcount
        if not count:
            continue
        released += count
        seqs = select(Delivery.batch_seq).where(
            Delivery.run_id == run.id, Delivery.status == status.PENDING
        )
        session.execute(
            update(Batch)
            .where(Batch.run_id == run.id, Batch.seq.in_(seqs), Batch.status == "done")
            .values(status="queued", enqueued_at=None, lease_until=None)
        )
        if run.status in ("sent", "cancelled"):
            run.status, run.finished_at = "sending", None
    if not released:
        raise Conflict("no uncertain deliveries to hand off again", {"status": campaign.status})
    if campaign.status == "sent":
        _transition_any(session, campaign, "sending")
    return released


def _transition_any(session: Session, campaign: Campaign, new_status: str) -> None:
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == campaign.status)
        .values(status=new_status, updated_at=clock.now())
    )
    session.refresh(campaign)
