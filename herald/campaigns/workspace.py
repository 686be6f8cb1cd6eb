"""What the marketer's workspace needs from the campaign service besides create and update:
taking a scheduled campaign back to draft, refusing a past "once" time at save, the audience
count and the one-sentence review of what will happen."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from herald.campaigns import calendar, schedules
from herald.campaigns.models import Campaign, Run
from herald.campaigns.planning import audience
from herald.campaigns.senders import sender_class
from herald.core import clock
from herald.core.errors import Conflict, ValidationError

METRIC_WORDS = {
    "open_rate": "open rate",
    "click_rate": "click rate",
    "conversion_rate": "conversion rate",
    "revenue": "revenue",
}
CHANNEL_WORDS = {
    "email": "by email",
    "sms": "by SMS",
    "social": "as a social post",
    "member_day": "as a member day",
}
# a once time this far in the past is still accepted (the marketer pressed save at the minute)
GRACE = timedelta(minutes=1)


def refuse_past(schedule: Mapping[str, Any] | None) -> None:
    """A ``once`` time in the past is refused when the campaign is saved (a ``smart`` day over
    everywhere is refused by the service's checks)."""
    if schedule and schedule.get("type") == "smart":
        if schedules.day_over(schedule, clock.now()):
            raise ValidationError(
                f"schedule.date: {schedule.get('date')} is already over everywhere; "
                "choose a later day",
                {"schedule.date": "in the past: choose a later day"},
            )
        return
    if not schedule or schedule.get("type") != "once":
        return
    at = schedules.parse_at(schedule.get("at"))
    if at < clock.now() - GRACE:
        raise ValidationError(
            "schedule.at is in the past: pick a time from now on, or send now",
            {"schedule.at": "in the past: pick a time from now on"},
        )


def unschedule(session: Session, campaign: Campaign) -> Campaign:
    """A scheduled campaign whose send has not started goes back to draft, to be edited."""
    if campaign.status != "scheduled":
        raise Conflict(
            f"only a scheduled campaign can go back to draft; this one is {campaign.status}",
            {"status": campaign.status},
        )
    started = session.scalar(
        select(Run.id).where(Run.campaign_id == campaign.id, Run.status.in_(("sending", "testing")))
    )
    if started is not None:
        raise Conflict("its send has started; pause or cancel it instead", {"status": "sending"})
    changed = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == "scheduled")
        .values(status="draft", next_run_at=None, updated_at=clock.now())
    ).rowcount
    session.refresh(campaign)
    if changed != 1:
        raise Conflict(f"the campaign changed meanwhile; it is {campaign.status}")
    return campaign


def audience_count(session: Session, campaign: Campaign, zone: ZoneInfo) -> int | None:
    """How many members the audience holds now (``None`` for a post, which has no audience)."""
    if sender_class(campaign.channel).address is None:
        return None
    ids = audience(session, campaign, zone).subquery()
    return int(session.scalar(select(func.count()).select_from(ids)) or 0)


def _when(at: datetime, zone: ZoneInfo, now: datetime) -> str:
    local = at.astimezone(zone)
    day = "" if local.date() == now.astimezone(zone).date() else f" on {local:%Y-%m-%d}"
    return f"{local:%H:%M} {zone.key} time{day}"


def _start(schedule: Mapping[str, Any], zone: ZoneInfo, now: datetime) -> str:
    kind = schedule.get("type", "immediate")
    if kind == "once":
        return f"at {_when(schedules.parse_at(schedule['at']), zone, now)}"
    if kind in ("local_time", "smart"):
        return calendar.describe(schedule, zone)
    if kind == "recurring":
        due = schedules.next_due(schedule, now, zone)
        then = f", next at {_when(due, zone, now)}" if due else ""
        return f"{calendar.describe(schedule, zone)}{then}"
    return "as soon as it is sent"


def review(session: Session, campaign: Campaign, zone: ZoneInfo) -> str:
    """One sentence saying what will happen, e.g. "12,430 members by email, 2 variants, 20%
    test at 10:00 Asia/Shanghai time, winner by click rate at 14:00 Asia/Shanghai time (else
    A), the rest after"."""
    count = audience_count(session, campaign, zone)
    who = "one post" if count is None else f"{count:,} member{'s' if count != 1 else ''}"
    variants = len(campaign.variants)
    parts = [
        f"{who} {CHANNEL_WORDS.get(campaign.channel, campaign.channel)}",
        f"{variants} variant{'s' if variants != 1 else ''}",
    ]
    schedule = campaign.schedule or {"type": "immediate"}
    now = clock.now()
    start = _start(schedule, zone, now)
    ab = campaign.ab_test
    if not ab:
        return ", ".join([*parts, start])
    parts.append(f"{round(ab['test_fraction'] * 100)}% test {start}")
    metric = METRIC_WORDS.get(ab["metric"], ab["metric"])
    hours = ab["decide_after_hours"]
    first = schedules.next_due(schedule, now, zone) if schedule.get("type") == "once" else None
    moment = (
        f"at {_when(first + timedelta(hours=hours), zone, now)}"
        if first
        else f"{hours:g} hours after the test starts"
    )
    parts.append(f"winner by {metric} {moment} (else {ab['fallback']}), the rest after")
    return ", ".join(parts)


MAX_VARIANTS = 8
# the longest text each variant field may hold (subject: RFC 5322's line limit)
FIELD_LIMITS = {
    "subject": 998,
    "from": 320,
    "html": 500_000,
    "text": 200_000,
    "body": 1_600,
    "sms_body": 1_600,
    "status": 2_000,
}


def check_bounds(variants: list[Mapping[str, Any]]) -> None:
    """Refuse variant fields longer than :data:`FIELD_LIMITS`, naming variant and field."""
    if len(variants) > MAX_VARIANTS:
        raise ValidationError(
            f"a campaign has at most {MAX_VARIANTS} variants",
            {"variants": f"at most {MAX_VARIANTS}"},
        )
    problems: dict[str, str] = {}
    for index, variant in enumerate(variants):
        for field, limit in FIELD_LIMITS.items():
            value = variant.get(field)
            if isinstance(value, str) and len(value) > limit:
                problems[f"variants[{index}].{field}"] = (
                    f"variant {variant.get('name')}: {field} is {len(value):,} characters; "
                    f"the limit is {limit:,}"
                )
    if problems:
        first = next(iter(problems.items()))
        raise ValidationError(f"{first[0]}: {first[1]}", problems)
