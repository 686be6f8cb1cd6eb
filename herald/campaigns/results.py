"""What a campaign's results page reads beside :mod:`herald.campaigns.metrics`: the rows that did
not go out and why, engagement hour by hour after the send, and the links people clicked. Pure
queries over the ledger and the events; the counts and rates themselves come from metrics."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from herald.audiences.models import Event
from herald.campaigns import status as st
from herald.campaigns.models import Campaign, Delivery, Run, Variant

CURVE_HOURS = 72
NOT_SENT = (st.FAILED, st.SKIPPED, st.CANCELLED, st.UNCERTAIN)


def run_ids(session: Session, campaign_id: int) -> list[int]:
    """The campaign's runs, oldest first."""
    return list(
        session.scalars(select(Run.id).where(Run.campaign_id == campaign_id).order_by(Run.id))
    )


def not_sent(session: Session, ids: list[int]) -> list[dict[str, Any]]:
    """Rows that did not go out, grouped by status and reason, most frequent first."""
    if not ids:
        return []
    count = func.count()
    rows = session.execute(
        select(Delivery.status, Delivery.reason, count)
        .where(Delivery.run_id.in_(ids), Delivery.status.in_(NOT_SENT))
        .group_by(Delivery.status, Delivery.reason)
        .order_by(count.desc(), Delivery.status)
    ).all()
    return [
        {"status": status, "reason": reason or "no reason recorded", "count": int(n)}
        for status, reason, n in rows
    ]


def not_sent_counts(rows: list[dict[str, Any]]) -> dict[str, int]:
    """``{status: rows}`` from :func:`not_sent`'s groups."""
    out: dict[str, int] = {}
    for row in rows:
        out[row["status"]] = out.get(row["status"], 0) + row["count"]
    return out


def _aware(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def engagement_curve(session: Session, ids: list[int], hours: int = CURVE_HOURS) -> dict[str, Any]:
    """Human opens and clicks per hour over the first ``hours`` after the first run started:
    ``{start, hours, opens: [..], clicks: [..]}`` (events after the window are left out)."""
    empty = {"start": None, "hours": hours, "opens": [0] * hours, "clicks": [0] * hours}
    if not ids:
        return empty
    started = session.scalar(select(func.min(Run.started_at)).where(Run.id.in_(ids)))
    if started is None:
        return empty
    start = _aware(started)
    end = start + timedelta(hours=hours)
    rows = session.execute(
        select(Event.type, Event.occurred_at)
        .join(Delivery, Delivery.id == Event.delivery_id)
        .where(
            Delivery.run_id.in_(ids),
            Event.type.in_(("email.opened", "email.clicked")),
            Event.machine.is_(False),
            Event.occurred_at >= started,
        )
    ).all()
    opens, clicks = [0] * hours, [0] * hours
    for kind, moment in rows:
        at = _aware(moment)
        if at >= end:
            continue
        slot = int((at - start).total_seconds() // 3600)
        (opens if kind == "email.opened" else clicks)[max(0, slot)] += 1
    return {"start": start.isoformat(), "hours": hours, "opens": opens, "clicks": clicks}


def top_links(session: Session, ids: list[int], limit: int = 10) -> list[dict[str, Any]]:
    """The campaign's links by human clicks, with how many members clicked each."""
    if not ids:
        return []
    url = Event.data["url"].as_string()
    clicks = func.count(Event.id)
    rows = session.execute(
        select(url, clicks, func.count(distinct(Event.contact_id)))
        .join(Delivery, Delivery.id == Event.delivery_id)
        .where(
            Delivery.run_id.in_(ids),
            Event.type == "email.clicked",
            Event.machine.is_(False),
            url.is_not(None),
        )
        .group_by(url)
        .order_by(clicks.desc(), url)
        .limit(limit)
    ).all()
    return [{"url": u, "clicks": int(c), "unique_clickers": int(p)} for u, c, p in rows]


def member_messages(session: Session, contact_id: int, limit: int = 200) -> list[dict[str, Any]]:
    """Every message the member was sent (or that was held back), newest first, with its
    outcome and what they did with it."""
    rows = session.execute(
        select(Delivery, Campaign.id, Campaign.name, Campaign.channel, Variant.name)
        .join(Run, Run.id == Delivery.run_id)
        .join(Campaign, Campaign.id == Run.campaign_id)
        .outerjoin(Variant, Variant.id == Delivery.variant_id)
        .where(Delivery.contact_id == contact_id)
        .order_by(Delivery.id.desc())
        .limit(limit)
    ).all()
    ids = [row[0].id for row in rows]
    done: dict[int, set[str]] = {}
    if ids:
        for delivery_id, kind in session.execute(
            select(Event.delivery_id, Event.type)
            .where(Event.delivery_id.in_(ids), Event.machine.is_(False))
            .distinct()
        ):
            done.setdefault(int(delivery_id), set()).add(kind)
    return [
        {
            "delivery": delivery,
            "campaign_id": campaign_id,
            "campaign": name,
            "channel": channel,
            "variant": variant,
            "engagement": sorted(k.split(".")[-1] for k in done.get(delivery.id, set())),
        }
        for delivery, campaign_id, name, channel, variant in rows
    ]
