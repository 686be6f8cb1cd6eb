"""The campaign calendar (contract section 12): every scheduled send in a window of days, each
occurrence of a recurring schedule as its own item; and the schedule helpers the campaign
builder shows (the next occurrences, a sentence for a rule)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from herald.campaigns import promotions, schedules
from herald.campaigns.models import Campaign
from herald.campaigns.promotions import Promotion
from herald.core.errors import ValidationError

MAX_DAYS = 366
# a recurring rule firing every minute would fill a month with 44,640 items
MAX_OCCURRENCES = 500
# item kinds; journeys join when that feature lands
KINDS = ("campaign", "member_day", "promotion", "journey")
HIDDEN = ("cancelled",)


def parse_window(raw_from: Any, raw_to: Any) -> tuple[date, date]:
    """``from`` and ``to`` as dates (both included); problems name the parameter."""
    days: list[date] = []
    for name, raw in (("from", raw_from), ("to", raw_to)):
        try:
            if not isinstance(raw, str):
                raise ValueError
            days.append(date.fromisoformat(raw))
        except ValueError:
            raise ValidationError(
                f"{name} must be a date such as 2026-11-01", {name: "a date such as 2026-11-01"}
            ) from None
    start, end = days
    if end < start:
        raise ValidationError("to is before from", {"to": "before from"})
    if (end - start).days >= MAX_DAYS:
        raise ValidationError(
            f"the window is at most {MAX_DAYS} days", {"to": f"at most {MAX_DAYS} days"}
        )
    if start.year < schedules.MIN_YEAR or end.year > schedules.MAX_YEAR:
        raise ValidationError("the years must be from 1970 to 2999", {"from": "year"})
    return start, end


def occurrences(
    schedule: Mapping[str, Any], start: datetime, end: datetime, zone: ZoneInfo, limit: int
) -> list[datetime]:
    """The instants in ``[start, end)`` when the schedule falls due (at most ``limit``)."""
    kind = schedule.get("type")
    if kind == "once":
        at = schedules.parse_at(schedule["at"])
        return [at] if start <= at < end else []
    if kind == "local_time":
        # placed at the wall-clock time in the shop's zone: members' zones spread it around it
        wall = datetime.combine(
            date.fromisoformat(schedule["date"]), time.fromisoformat(schedule["time"]), zone
        )
        return [wall] if start <= wall < end else []
    if kind == "smart":
        # placed at the fallback time in the shop's zone: members' best hours spread the day
        wall = datetime.combine(
            date.fromisoformat(schedule["date"]),
            time.fromisoformat(schedule["fallback_time"]),
            zone,
        )
        return [wall] if start <= wall < end else []
    if kind == "recurring":
        rule_zone = ZoneInfo(schedule.get("timezone") or zone.key)
        trigger = schedules.cron_trigger(schedule["cron"], rule_zone)
        found: list[datetime] = []
        fire = trigger.get_next_fire_time(None, start)
        while fire is not None and fire < end and len(found) < limit:
            found.append(fire)
            fire = trigger.get_next_fire_time(fire, fire + timedelta(seconds=1))
        return found
    return []


def next_occurrences(
    schedule: Any, zone: ZoneInfo, now: datetime, count: int = 5
) -> list[datetime]:
    """The next ``count`` times a schedule falls due after ``now`` (validated first)."""
    clean = schedules.validate(schedule, zone)
    if clean["type"] == "immediate":
        return []
    horizon = now + timedelta(days=366 * 5)
    return occurrences(clean, now, horizon, zone, count)


def calendar(session: Session, start: date, end: date, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Every campaign send between the two dates (in ``zone``, both included), in time order,
    and the promotions running on any of those days as spans."""
    low = datetime.combine(start, time(), zone)
    high = datetime.combine(end + timedelta(days=1), time(), zone)
    items: list[dict[str, Any]] = []
    rows = session.scalars(
        select(Campaign).where(Campaign.status.not_in(HIDDEN)).order_by(Campaign.id)
    )
    for campaign in rows:
        schedule = campaign.schedule or {}
        kind = schedule.get("type")
        if kind == "trigger":
            continue
        if kind == "immediate":
            at = campaign.next_run_at
            if at is not None and at.tzinfo is None:
                at = at.replace(tzinfo=ZoneInfo("UTC"))
            found = [at] if at is not None and low <= at < high else []
        else:
            try:
                found = occurrences(schedule, low, high, zone, MAX_OCCURRENCES)
            except (ValidationError, ValueError, KeyError):
                continue  # a stored schedule that no longer parses has no place on a calendar
        for at in found:
            items.append(
                {
                    "kind": "member_day" if campaign.channel == "member_day" else "campaign",
                    "id": campaign.id,
                    "name": campaign.name,
                    "channel": campaign.channel,
                    "at": at.isoformat(),
                    "local": at.astimezone(zone).strftime("%Y-%m-%d %H:%M"),
                    "schedule": kind,
                    "status": campaign.status,
                    "promotion_id": campaign.promotion_id,
                }
            )
    items.extend(promotion_spans(session, low, high, zone))
    items.sort(key=lambda item: (item["local"], item["kind"] != "promotion", item["id"]))
    return items


def promotion_spans(
    session: Session, low: datetime, high: datetime, zone: ZoneInfo
) -> list[dict[str, Any]]:
    """Each promotion overlapping ``[low, high)`` as a span (``starts_at`` to ``ends_at``, and
    its local first and last day), with its campaigns' ids."""
    rows = session.scalars(
        select(Promotion)
        .where(Promotion.starts_at < high, Promotion.ends_at > low)
        .order_by(Promotion.starts_at, Promotion.id)
    ).all()
    members: dict[int, list[int]] = {}
    if rows:
        for campaign_id, promotion_id in session.execute(
            select(Campaign.id, Campaign.promotion_id)
            .where(Campaign.promotion_id.in_([p.id for p in rows]))
            .order_by(Campaign.id)
        ):
            members.setdefault(promotion_id, []).append(campaign_id)
    out = []
    for promotion in rows:
        start = promotion.starts_at.astimezone(zone)
        # a promotion ending at midnight ends on the day before
        last = (promotion.ends_at - timedelta(microseconds=1)).astimezone(zone)
        out.append(
            {
                "kind": "promotion",
                "id": promotion.id,
                "name": promotion.name,
                "channel": None,
                "starts_at": promotion.starts_at.isoformat(),
                "ends_at": promotion.ends_at.isoformat(),
                "local": start.strftime("%Y-%m-%d %H:%M"),
                "first_day": start.date().isoformat(),
                "last_day": last.date().isoformat(),
                "promotion_kind": promotion.kind,
                "status": promotions.phase(promotion),
                "promotion_id": promotion.id,
                "campaign_ids": members.get(promotion.id, []),
            }
        )
    return out


def describe(schedule: Mapping[str, Any], zone: ZoneInfo) -> str:
    """A schedule in one readable sentence."""
    kind = schedule.get("type")
    if kind == "once":
        at = schedules.parse_at(schedule["at"])
        return f"once, at {at:%Y-%m-%d %H:%M} (UTC{at:%z})"
    if kind == "local_time":
        return f"on {schedule['date']} at {schedule['time'][:5]} in each member's own time zone"
    if kind == "smart":
        return (
            f"on {schedule['date']} at each member's best hour in their own time zone "
            f"(else at {schedule['fallback_time'][:5]})"
        )
    if kind == "recurring":
        return f"on the rule {schedule['cron']} in {schedule.get('timezone') or zone.key}"
    return "as soon as it is sent"
