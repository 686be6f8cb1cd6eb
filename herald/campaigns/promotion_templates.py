"""The holiday gallery: ready-made promotions (Double 11, Double 12, Spring Festival, 618, member
day, flash sale, new-product launch, win-back) that fill in a promotion and its campaigns as
drafts, dated for the next occurrence, for a marketer to review, adjust and arm.

Every campaign is created through :func:`herald.campaigns.service.create_campaign`, so the
gallery's templates pass the same save-time checks as anything a marketer types. Times are wall
clock in the shop's zone. The message texts live in :mod:`herald.campaigns.promotion_texts`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.orm import Session

from herald.campaigns import promotion_texts as texts
from herald.campaigns import promotions, service
from herald.campaigns.promotion_texts import Draft
from herald.campaigns.promotions import Promotion
from herald.core import clock
from herald.core.errors import NotFound, ValidationError

# Chinese New Year's Day (the first day of the first lunar month). The lunisolar calendar
# follows new moons and the solar terms as observed in China (UTC+8); no standard library
# computes it, an approximation can be a day off, and a wrong festival date in a promotion is
# worse than a clear "not known yet". So: the published dates, to be extended as years pass.
CHINESE_NEW_YEAR = {
    2025: date(2025, 1, 29),
    2026: date(2026, 2, 17),
    2027: date(2027, 2, 6),
    2028: date(2028, 1, 26),
    2029: date(2029, 2, 13),
    2030: date(2030, 2, 3),
    2031: date(2031, 1, 23),
    2032: date(2032, 2, 11),
    2033: date(2033, 1, 31),
    2034: date(2034, 2, 19),
    2035: date(2035, 2, 8),
}
MIN_YEAR, MAX_YEAR = 2000, 2999
# a window is found from a day: the holiday's own dates, or (for the relative ones) a day after
Window = Callable[[int, date], tuple[date, date] | None]


@dataclass(frozen=True)
class Template:
    """A gallery entry: the promotion's kind, window, goal and budget, and its drafts."""

    key: str
    name: str
    kind: str
    description: str
    window: Window
    drafts: tuple[Draft, ...]
    goal: dict[str, Any] | None = None
    budget: int | None = None
    yearly: bool = True  # a fixed holiday (else: the next suitable days from today)
    # the first day's opening time; the last day's closing time (None: at its end)
    opens: str = "00:00"
    closes: str | None = None


def _fixed(month: int, first: int, last: int) -> Window:
    return lambda year, _today: (date(year, month, first), date(year, month, last))


def _spring_festival(year: int, _today: date) -> tuple[date, date] | None:
    new_year = CHINESE_NEW_YEAR.get(year)
    # shoppers buy before couriers stop for the holiday: three weeks up to New Year's Day
    return (new_year - timedelta(days=21), new_year) if new_year else None


def _member_day(_year: int, today: date) -> tuple[date, date]:
    day = today.replace(day=8)
    if day <= today + timedelta(days=1):  # its notice goes out the day before
        day = (day + timedelta(days=31)).replace(day=8)
    return day, day


def _weekday_after(today: date, weekday: int, at_least: int) -> date:
    day = today + timedelta(days=at_least)
    return day + timedelta(days=(weekday - day.weekday()) % 7)


def _flash_sale(_year: int, today: date) -> tuple[date, date]:
    friday = _weekday_after(today, 4, 2)
    return friday, friday + timedelta(days=1)


def _launch(_year: int, today: date) -> tuple[date, date]:
    start = _weekday_after(today, 1, 10)  # a Tuesday at least ten days out: time to tease
    return start, start + timedelta(days=6)


def _winback(_year: int, today: date) -> tuple[date, date]:
    start = _weekday_after(today, 0, 3)
    return start, start + timedelta(days=13)


TEMPLATES: dict[str, Template] = {
    t.key: t
    for t in (
        Template(
            "double11",
            "Double 11",
            "holiday",
            "Singles' Day, 1 to 11 November: a teaser, member-day benefits, a flash-sale email "
            "counting down to the end, the SMS on the day and a social post.",
            _fixed(11, 1, 11),
            texts.DOUBLE_11,
            {"metric": "revenue", "target": 500000},
            50000,
        ),
        Template(
            "double12",
            "Double 12",
            "holiday",
            "1 to 12 December: a teaser, a last-chance email with a countdown and the SMS on "
            "the day.",
            _fixed(12, 1, 12),
            texts.DOUBLE_12,
            {"metric": "revenue", "target": 200000},
            20000,
        ),
        Template(
            "spring_festival",
            "Spring Festival",
            "holiday",
            "Three weeks up to Chinese New Year: order before couriers stop, a gift for gold "
            "and platinum members, New Year's greetings.",
            _spring_festival,
            texts.SPRING_FESTIVAL,
            {"metric": "orders", "target": 2000},
            30000,
        ),
        Template(
            "618",
            "618 mid-year sale",
            "holiday",
            "1 to 18 June: a teaser, a countdown email on the eve and the SMS on the 18th.",
            _fixed(6, 1, 18),
            texts.SIX_EIGHTEEN,
            {"metric": "revenue", "target": 300000},
            30000,
        ),
        Template(
            "member_day",
            "Member day",
            "member_day",
            "The next 8th of the month: a notice the day before and tier benefits on the day.",
            _member_day,
            texts.MEMBER_DAY,
            {"metric": "orders", "target": 300},
            5000,
            yearly=False,
        ),
        Template(
            "flash_sale",
            "Flash sale",
            "flash_sale",
            "24 hours from next Friday 20:00: the announcement with a countdown, the SMS as it "
            "opens and a last call four hours before the end.",
            _flash_sale,
            texts.FLASH_SALE,
            {"metric": "revenue", "target": 50000},
            3000,
            yearly=False,
            opens="20:00",
            closes="20:00",
        ),
        Template(
            "launch",
            "New-product launch",
            "launch",
            "A week from a Tuesday: a teaser three days before, the launch email and a social "
            "post on the day.",
            _launch,
            texts.LAUNCH,
            {"metric": "orders", "target": 500},
            10000,
            yearly=False,
        ),
        Template(
            "winback",
            "Win-back",
            "exclusive",
            "Two weeks from next Monday for members who stopped buying: a we-miss-you email and "
            "an SMS reminder a week later (choose a segment of lapsed members).",
            _winback,
            texts.WINBACK,
            {"metric": "orders", "target": 100},
            2000,
            yearly=False,
        ),
    )
}


def get(key: str) -> Template:
    """The gallery entry, or a 404 naming the ones there are."""
    template = TEMPLATES.get(key)
    if template is None:
        raise NotFound(f"no promotion template {key!r}; there are {', '.join(TEMPLATES)}")
    return template


@dataclass(frozen=True)
class Plan:
    """A template dated: the promotion's window and each draft's send time."""

    template: Template
    year: int
    starts_at: datetime
    ends_at: datetime
    sends: tuple[tuple[Draft, datetime], ...]


def _plan(template: Template, year: int, today: date, zone: ZoneInfo) -> Plan | None:
    window = template.window(year, today)
    if window is None:
        return None
    first, last = window
    starts_at = datetime.combine(first, time.fromisoformat(template.opens), zone)
    ends_at = (
        datetime.combine(last, time.fromisoformat(template.closes), zone)
        if template.closes
        else datetime.combine(last + timedelta(days=1), time(0), zone)
    )
    sends = tuple(
        (
            draft,
            datetime.combine(
                (last if draft.from_end else first) + timedelta(days=draft.days),
                time.fromisoformat(draft.at),
                zone,
            ),
        )
        for draft in template.drafts
    )
    return Plan(template, year, starts_at, ends_at, sends)


def plan(key: str, year: Any = None, zone: ZoneInfo | None = None) -> Plan:
    """The template dated for ``year``, or for its next occurrence whose every message is still
    to come. A year that is over (or has begun) or has no known date is a 422 saying so."""
    template = get(key)
    zone = zone or ZoneInfo("UTC")
    now = clock.now()
    today = now.astimezone(zone).date()
    if year is not None and (
        isinstance(year, bool) or not isinstance(year, int) or not MIN_YEAR <= year <= MAX_YEAR
    ):
        raise ValidationError(
            f"year must be a year such as {today.year}", {"year": "a year such as 2026"}
        )
    if not template.yearly:
        start = today if year is None or year <= today.year else date(year, 1, 1)
        found = _plan(template, start.year, start, zone)
        assert found is not None
        return found
    years = [year] if year is not None else list(range(today.year, today.year + 3))
    for candidate in years:
        found = _plan(template, candidate, today, zone)
        if found is None:
            if year is not None:
                known = ", ".join(str(y) for y in sorted(CHINESE_NEW_YEAR) if y >= today.year)
                raise ValidationError(
                    f"the date of {template.name} {year} is not known to Herald (known: {known})",
                    {"year": "date not known"},
                )
            continue
        if min(at for _, at in found.sends) >= now:
            return found
        if year is not None:
            raise ValidationError(
                f"{template.name} {year} has begun or is over: its first message was due "
                f"{min(at for _, at in found.sends):%Y-%m-%d %H:%M}; choose {year + 1}",
                {"year": "already begun"},
            )
    raise ValidationError(
        f"no upcoming {template.name} date is known to Herald", {"year": "date not known"}
    )


def describe(template: Template, zone: ZoneInfo | None = None) -> dict[str, Any]:
    """A gallery entry as the API lists it, with its next dates."""
    try:
        upcoming: Plan | None = plan(template.key, None, zone)
    except ValidationError:
        upcoming = None
    return {
        "key": template.key,
        "name": template.name,
        "kind": template.kind,
        "description": template.description,
        "goal": template.goal,
        "budget": template.budget,
        "yearly": template.yearly,
        "campaigns": [{"name": d.name, "channel": d.channel} for d in template.drafts],
        "next": (
            {
                "year": upcoming.year,
                "starts_at": upcoming.starts_at.isoformat(),
                "ends_at": upcoming.ends_at.isoformat(),
                "first_day": upcoming.starts_at.date().isoformat(),
                # a promotion ending at midnight ends on the day before
                "last_day": (upcoming.ends_at - timedelta(microseconds=1)).date().isoformat(),
            }
            if upcoming
            else None
        ),
    }


def apply(
    session: Session,
    key: str,
    year: int | None = None,
    *,
    segment_id: int | None = None,
    zone: ZoneInfo | None = None,
) -> tuple[Promotion, list[int]]:
    """Create the template's promotion and its campaigns as drafts (nothing is armed); returns
    the promotion and the campaigns' ids. ``segment_id`` is the audience of every campaign that
    has one (a social post has none); without it they go to everyone who consented."""
    dated = plan(key, year, zone)
    template = dated.template
    label = f"{template.name} {dated.year}" if template.yearly else template.name
    if not template.yearly:
        label = f"{template.name} {dated.starts_at:%Y-%m-%d}"
    promotion = promotions.create(
        session,
        {
            "name": label,
            "kind": template.kind,
            "starts_at": dated.starts_at.isoformat(),
            "ends_at": dated.ends_at.isoformat(),
            "goal": template.goal,
            "budget": template.budget,
            "description": template.description,
        },
        template=template.key,
    )
    ids: list[int] = []
    for draft, at in dated.sends:
        body: dict[str, Any] = {
            "name": f"{label}: {draft.name}",
            "channel": draft.channel,
            "variants": [{"name": "A", **draft.variant}],
            "schedule": {"type": "once", "at": at.isoformat()},
            "promotion_id": promotion.id,
        }
        if segment_id is not None and draft.channel != "social":
            body["segment_id"] = segment_id
        campaign = service.create_campaign(session, body, zone or ZoneInfo("UTC"))
        ids.append(campaign.id)
    return promotion, ids
