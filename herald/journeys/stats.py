"""``GET /journeys/{id}/stats`` (contract section 14): entries by state, the holdout against the
entrants (conversion rate, revenue, and the lift with its Newcombe interval), and each step's
visits, members waiting there and, for message steps, the campaign metrics of its ledger.

A conversion is an ``order.placed`` by the member after entering, while in the journey or
within 5 days of leaving it (the attribution window of contract section 9)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from herald.abtest.lift import newcombe_difference
from herald.audiences.models import Event
from herald.campaigns import metrics
from herald.campaigns.models import Run
from herald.core import clock
from herald.journeys.engine import waiting_counts
from herald.journeys.expiry_stats import points_saved
from herald.journeys.models import Journey
from herald.journeys.models import JourneyEntry as E
from herald.journeys.models import JourneyVisit as V

WINDOW = timedelta(days=5)


def journey_stats(
    session: Session, journey: Journey, now: datetime | None = None
) -> dict[str, Any]:
    """The journey's stats in the contract's shape."""
    now = now or clock.now()
    mine = E.journey_id == journey.id
    states = dict(
        session.execute(select(E.state, func.count()).where(mine).group_by(E.state)).all()
    )
    exits = dict(
        session.execute(
            select(E.exit_reason, func.count())
            .where(mine, E.state == "exited")
            .group_by(E.exit_reason)
        ).all()
    )
    groups = _conversions(session, journey.id, now)
    treated, held = groups.get(False, (0, 0, 0.0)), groups.get(True, (0, 0, 0.0))
    estimate, interval = newcombe_difference(treated[1], treated[0], held[1], held[0])
    return {
        "journey_id": journey.id,
        "entered": sum(states.values()),
        "active": states.get("active", 0),
        "completed": states.get("completed", 0),
        # every exit today is a goal (exit_on); by event says which
        "exited": {
            "goal": sum(exits.values()),
            "by_event": {str(reason): count for reason, count in exits.items()},
        },
        "entrants": _group(treated),
        "holdout": _group(held),
        "lift": {"conversion_rate": round(estimate, 6), "ci": [round(x, 6) for x in interval]},
        "steps": step_stats(session, journey),
        # expiry journeys only (points_expire_at entry): points redeemed before the date
        "points_saved": points_saved(session, journey),
    }


def _group(values: tuple[int, int, float]) -> dict[str, Any]:
    members, conversions, revenue = values
    return {
        "members": members,
        "conversions": conversions,
        "revenue": round(float(revenue), 2),
        "conversion_rate": metrics.ratio(conversions, members),
    }


def _conversions(
    session: Session, journey_id: int, now: datetime, entered: Any = None
) -> dict[bool, tuple[int, int, float]]:
    """Per holdout flag: entries (those ``entered`` selects, else all), entries with an order in
    their window, and those orders' revenue."""
    converted: dict[bool, set[int]] = {False: set(), True: set()}
    revenue: dict[bool, Decimal] = {False: Decimal(0), True: Decimal(0)}
    mine = and_(E.journey_id == journey_id, true() if entered is None else entered)
    ends = dict(
        session.execute(select(E.id, E.finished_at).where(mine, E.finished_at.is_not(None))).all()
    )
    rows = session.execute(
        select(E.id, E.holdout, Event.occurred_at, Event.data)
        .join(Event, and_(Event.contact_id == E.contact_id, Event.type == "order.placed"))
        .where(mine, Event.occurred_at >= E.entered_at)
    ).all()
    for entry_id, holdout, at, data in rows:
        end = ends.get(entry_id) or now
        if at > end + WINDOW:
            continue
        converted[holdout].add(entry_id)
        revenue[holdout] += Decimal(str((data or {}).get("total", 0) or 0))
    sizes = dict(
        session.execute(select(E.holdout, func.count()).where(mine).group_by(E.holdout)).all()
    )
    return {
        flag: (sizes.get(flag, 0), len(converted[flag]), float(revenue[flag]))
        for flag in (False, True)
    }


def step_stats(session: Session, journey: Journey) -> dict[str, Any]:
    """Per step: entered (visits), waiting (members there now), held (holdout members who passed
    a message step), edges taken out of it, and the campaign metrics of a message step."""
    visits = dict(
        session.execute(
            select(V.step, func.count()).where(V.journey_id == journey.id).group_by(V.step)
        ).all()
    )
    held = dict(
        session.execute(
            select(V.step, func.count())
            .where(V.journey_id == journey.id, V.outcome == "held")
            .group_by(V.step)
        ).all()
    )
    edges: dict[str, dict[str, int]] = {}
    for came_from, step, count in session.execute(
        select(V.came_from, V.step, func.count())
        .where(V.journey_id == journey.id, V.came_from.is_not(None))
        .group_by(V.came_from, V.step)
    ).all():
        edges.setdefault(came_from, {})[step] = count
    waiting = waiting_counts(session, journey.id)
    out: dict[str, Any] = {}
    for step in journey.definition["steps"]:
        sid = step["id"]
        item: dict[str, Any] = {
            "type": step["type"],
            "entered": visits.get(sid, 0),
            "waiting": waiting.get(sid, 0),
            "next": edges.get(sid, {}),
        }
        if step["type"] == "message":
            item["held"] = held.get(sid, 0)
            campaign_id = journey.step_campaigns.get(sid)
            run_ids = list(session.scalars(select(Run.id).where(Run.campaign_id == campaign_id)))
            total, _ = metrics.runs_stats(session, run_ids)
            item.update(total)
        out[sid] = item
    return out


def week_summary(
    session: Session, journey: Journey, start: datetime, end: datetime, now: datetime | None = None
) -> dict[str, Any]:
    """What the journey did with the members who entered between ``start`` and ``end`` (the
    weekly report's row): entered (holdout included), completed and exited (as of now), the
    entrants' conversions and revenue, the holdout's, the lift of the conversion rate with its
    Newcombe interval, and the campaign metrics of its messages sent in those days."""
    now = now or clock.now()
    week = and_(E.entered_at >= start, E.entered_at < end)
    states = dict(
        session.execute(
            select(E.state, func.count()).where(E.journey_id == journey.id, week).group_by(E.state)
        ).all()
    )
    groups = _conversions(session, journey.id, now, week)
    treated, held = groups[False], groups[True]
    estimate, interval = newcombe_difference(treated[1], treated[0], held[1], held[0])
    campaigns = list((journey.step_campaigns or {}).values())
    run_ids = list(
        session.scalars(
            select(Run.id).where(
                Run.campaign_id.in_(campaigns), Run.started_at >= start, Run.started_at < end
            )
        )
    )
    messages, _ = metrics.runs_stats(session, run_ids)
    entrants = _group(treated)
    return {
        "id": journey.id,
        "name": journey.name,
        "status": journey.status,
        "entered": sum(states.values()),
        "active": states.get("active", 0),
        "completed": states.get("completed", 0),
        "exited": states.get("exited", 0),
        "conversions": entrants["conversions"],
        "revenue": entrants["revenue"],
        "conversion_rate": entrants["conversion_rate"],
        "entrants": entrants,
        "holdout": _group(held),
        "lift": {"conversion_rate": round(estimate, 6), "ci": [round(x, 6) for x in interval]},
        "messages": messages,
    }
