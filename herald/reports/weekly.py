"""The weekly report's data (contract section 11), read through the one metrics module.

A week is an ISO week, Monday 00:00 to the next Monday 00:00 in ``HERALD_TIMEZONE``. A run
belongs to the week it started in; its metrics are the contract's (``metrics.runs_stats``), as
of now, so opens and orders that come in after the week still count for that week's runs.
The sources are read once for all three weeks' runs (``metrics.raw_counts``) and summed per
campaign and week (``metrics.stats_from``), the same numbers ``runs_stats`` gives.
Each campaign is compared with its own runs of the week before.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from herald.abtest.sentence import decision_sentence
from herald.audiences.models import Event
from herald.campaigns import metrics
from herald.campaigns.attribution import CLICK_TYPES
from herald.campaigns.metrics import remaining
from herald.campaigns.models import Campaign, Run, Variant
from herald.core import clock
from herald.core.errors import ValidationError
from herald.journeys.models import Journey
from herald.journeys.stats import week_summary

WEEK_PATTERN = re.compile(r"^(\d{4})-W(\d{2})$")
TOP_LINKS = 10
VARIANT_FIELDS = (
    "sent",
    "delivered",
    "unique_opens",
    "unique_clicks",
    "conversions",
    "revenue",
    "open_rate",
    "click_rate",
    "conversion_rate",
)
# every number a campaign's change compares: counts, revenue, then rates
COMPARED = (*metrics.COUNTS, "revenue", *metrics.RATES, *metrics.MONEY)


@dataclass(frozen=True)
class Week:
    """One ISO week in a zone."""

    year: int
    number: int
    zone: ZoneInfo

    @property
    def label(self) -> str:
        """``2026-W47``."""
        return f"{self.year}-W{self.number:02d}"

    @property
    def start(self) -> datetime:
        """Monday 00:00 in the zone."""
        return datetime.combine(date.fromisocalendar(self.year, self.number, 1), time(0), self.zone)

    @property
    def end(self) -> datetime:
        """The next Monday 00:00 in the zone (excluded)."""
        monday = date.fromisocalendar(self.year, self.number, 1) + timedelta(days=7)
        return datetime.combine(monday, time(0), self.zone)

    def previous(self) -> Week:
        """The ISO week before this one."""
        return week_of(self.start - timedelta(days=1), self.zone)

    def year_before(self) -> Week:
        """The same ISO week a year before (week 52 when that year had no week 53)."""
        try:
            date.fromisocalendar(self.year - 1, self.number, 1)
        except ValueError:
            return Week(self.year - 1, 52, self.zone)
        return Week(self.year - 1, self.number, self.zone)


def week_of(moment: datetime, zone: ZoneInfo) -> Week:
    """The ISO week that contains ``moment`` in ``zone``."""
    year, number, _ = moment.astimezone(zone).isocalendar()
    return Week(year, number, zone)


def parse_week(text: str | None, zone: ZoneInfo, now: datetime | None = None) -> Week:
    """``2026-W47`` → that week; None or empty → the ISO week before the current one. A malformed
    or impossible week is a ValidationError naming ``week``."""
    if text is None or not text.strip():
        return week_of(now or clock.now(), zone).previous()
    match = WEEK_PATTERN.match(text.strip())
    message = f"{text!r} is not an ISO week like 2026-W47"
    if not match:
        raise ValidationError(f"week: {message}", {"week": message})
    year, number = int(match.group(1)), int(match.group(2))
    if not 1970 <= year <= 2999:
        message = f"{text.strip()!r}: the year must be from 1970 to 2999"
        raise ValidationError(f"week: {message}", {"week": message})
    try:
        date.fromisocalendar(year, number, 1)
    except ValueError:
        message = f"{year} has no ISO week {number}"
        raise ValidationError(f"week: {message}", {"week": message}) from None
    return Week(year, number, zone)


def kind_of(campaign: Campaign) -> str:
    """``trigger`` for a trigger's campaign, else ``campaign``."""
    return "trigger" if (campaign.schedule or {}).get("type") == "trigger" else "campaign"


def _runs_by_campaign(session: Session, week: Week) -> dict[int, list[int]]:
    rows = session.execute(
        select(Run.campaign_id, Run.id)
        .where(Run.started_at >= week.start, Run.started_at < week.end)
        .order_by(Run.campaign_id, Run.id)
    ).all()
    out: dict[int, list[int]] = defaultdict(list)
    for campaign_id, run_id in rows:
        out[campaign_id].append(run_id)
    return dict(out)


def change(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any] | None:
    """Per metric ``{previous, absolute, relative}``: ``absolute`` is current − previous (for
    rates, in fraction points), ``relative`` is that over previous (null when previous is 0).
    None when there is nothing to compare with."""
    if previous is None:
        return None
    out: dict[str, Any] = {}
    for name in COMPARED:
        now_value, before = current[name], previous[name]
        absolute = now_value - before
        if isinstance(absolute, float):
            absolute = round(absolute, 6)
        relative = round((now_value - before) / before, 6) if before else None
        out[name] = {"previous": before, "absolute": absolute, "relative": relative}
    return out


def top_links(session: Session, week: Week, limit: int = TOP_LINKS) -> list[dict[str, Any]]:
    """Links by human clicks in the week (any campaign), with the members who clicked them."""
    url = Event.data["url"].as_string()
    clicks = func.count(Event.id)
    rows = session.execute(
        select(url.label("url"), clicks, func.count(distinct(Event.contact_id)))
        .where(
            Event.type.in_(CLICK_TYPES),
            Event.machine.is_(False),
            Event.occurred_at >= week.start,
            Event.occurred_at < week.end,
            url.is_not(None),
        )
        .group_by(url)
        .order_by(clicks.desc(), url)
        .limit(limit)
    ).all()
    return [
        {"url": link, "clicks": int(count), "unique_clickers": int(people)}
        for link, count, people in rows
    ]


def _ab_test(
    session: Session, campaign: Campaign, per_variant: dict[int | None, dict[str, Any]]
) -> dict[str, Any]:
    ab = campaign.ab_test or {}
    decision = ab.get("decision") or {}
    names = dict(
        session.execute(
            select(Variant.id, Variant.name).where(Variant.campaign_id == campaign.id)
        ).all()
    )
    variants = {
        name: {key: per_variant.get(vid, metrics.finish({}))[key] for key in VARIANT_FIELDS}
        for vid, name in sorted(names.items(), key=lambda item: item[1])
    }
    return {
        "campaign_id": campaign.id,
        "name": campaign.name,
        "status": "decided" if decision else "pending",
        "metric": decision.get("metric", ab.get("metric")),
        "winner": decision.get("winner"),
        "reason": decision.get("reason"),
        "values": decision.get("values"),
        "confidence": decision.get("confidence", ab.get("confidence")),
        "decided_at": decision.get("decided_at"),
        "sentence": decision_sentence(decision or None, remaining(session, campaign)),
        "variants": variants,
    }


def journey_rows(session: Session, week: Week) -> list[dict[str, Any]]:
    """Each journey (not the triggers', reported as triggers) that was active or had members
    entering or messages going out in the week: entered, completed, conversions, revenue and
    the lift against its holdout with the interval, for the members who entered that week."""
    journeys = session.scalars(
        select(Journey)
        .where(
            Journey.trigger_id.is_(None),
            Journey.activated_at.is_not(None),
            Journey.activated_at < week.end,
        )
        .order_by(Journey.id)
    ).all()
    out = []
    for journey in journeys:
        row = week_summary(session, journey, week.start, week.end)
        if row["entered"] or row["messages"]["recipients"] or journey.status == "active":
            out.append(row)
    return out


def build_weekly_report(session: Session, week: Week) -> dict[str, Any]:
    """The report as the API answers it: ``{week, from, to, totals, previous_totals, campaigns,
    ab_tests, top_links}`` (plus ``timezone``, ``totals_change`` and the comparison with the same
    week a year before: ``year_ago_week``, ``year_ago_totals``, ``totals_change_year`` and each
    campaign's ``change_year``, null without data; and ``journeys``, see :func:`journey_rows`)."""
    previous_week = week.previous()
    year_week = week.year_before()
    runs = _runs_by_campaign(session, week)
    previous_runs = _runs_by_campaign(session, previous_week)
    year_runs = _runs_by_campaign(session, year_week)
    # one read of every source for the three weeks' runs; each figure below sums its own runs
    weeks = (runs, previous_runs, year_runs)
    every_run = [r for group in weeks for ids in group.values() for r in ids]
    raw = metrics.raw_counts(session, every_run)
    year_totals = None
    if year_runs:
        year_totals, _ = metrics.stats_from(raw, [r for ids in year_runs.values() for r in ids])
    totals, _ = metrics.stats_from(raw, [r for ids in runs.values() for r in ids])
    previous_totals, _ = metrics.stats_from(raw, [r for ids in previous_runs.values() for r in ids])
    campaigns: list[dict[str, Any]] = []
    ab_tests: list[dict[str, Any]] = []
    for campaign_id, run_ids in sorted(runs.items()):
        campaign = session.get(Campaign, campaign_id)
        if campaign is None:  # pragma: no cover - runs cascade with their campaign
            continue
        current, per_variant = metrics.stats_from(raw, run_ids)
        before = year_ago = None
        if campaign_id in previous_runs:
            before, _ = metrics.stats_from(raw, previous_runs[campaign_id])
        if campaign_id in year_runs:
            year_ago, _ = metrics.stats_from(raw, year_runs[campaign_id])
        campaigns.append(
            {
                "id": campaign.id,
                "name": campaign.name,
                "kind": kind_of(campaign),
                "channel": campaign.channel,
                "runs": len(run_ids),
                "metrics": current,
                "change": change(current, before),
                "change_year": change(current, year_ago),
            }
        )
        if campaign.ab_test:
            ab_tests.append(_ab_test(session, campaign, per_variant))
    return {
        "week": week.label,
        "from": week.start.isoformat(),
        "to": week.end.isoformat(),
        "timezone": week.zone.key,
        "previous_week": previous_week.label,
        "totals": totals,
        "previous_totals": previous_totals,
        "totals_change": change(totals, previous_totals if previous_runs else None),
        # the same week a year before, when Herald ran anything then (else null)
        "year_ago_week": year_week.label,
        "year_ago_totals": year_totals,
        "totals_change_year": change(totals, year_totals),
        "campaigns": campaigns,
        "ab_tests": ab_tests,
        "top_links": top_links(session, week),
        "journeys": journey_rows(session, week),
    }
