"""Ending an A/B test: when its window closes, choose the winner (or the fallback) and release
the held remainder of the audience with it."""

from __future__ import annotations

import logging
from collections import defaultdict
from datetime import datetime
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from herald.abtest.decision import DEFAULT_MIN_SAMPLE, Counts, decide
from herald.campaigns import metrics, wakeups
from herald.campaigns import status as st
from herald.campaigns.closing import finish_run_if_done
from herald.campaigns.models import Campaign, Delivery, Run, Variant
from herald.core.settings import Settings

log = logging.getLogger(__name__)

RATE_METRICS = {
    "open_rate": "unique_opens",
    "click_rate": "unique_clicks",
    "conversion_rate": "conversions",
}


def decide_due_tests(session: Session, settings: Settings, now: datetime) -> list[int]:
    """Decide every A/B run whose window has closed. Returns the ids of the released batches, to
    be enqueued after the caller commits."""
    due = session.scalars(
        select(Run.id).where(Run.status == "testing", Run.decide_at <= now).order_by(Run.id)
    ).all()
    released: list[int] = []
    for run_id in due:
        claimed = session.execute(
            update(Run).where(Run.id == run_id, Run.status == "testing").values(status="sending")
        ).rowcount
        if claimed == 1:  # another tick may be deciding the same run
            released += _decide(session, settings, run_id, now)
    return released


def evaluate(
    session: Session, run: Run, ab_test: dict[str, Any], min_sample: int = DEFAULT_MIN_SAMPLE
) -> dict[str, Any]:
    """The decision for one run (``herald.abtest.decision.decide`` over the run's counts per
    variant): the winner or the fallback, the evidence, and ``send``, the variant the remainder
    gets."""
    names = dict(
        session.execute(
            select(Variant.id, Variant.name)
            .where(Variant.campaign_id == run.campaign_id)
            .order_by(Variant.id)
        ).all()
    )
    _, per_variant = metrics.runs_stats(session, [run.id])
    metric = ab_test.get("metric", "click_rate")
    confidence = float(ab_test.get("confidence", 0.95))
    fallback = ab_test.get("fallback") or next(iter(names.values()))
    groups = {name: per_variant.get(vid, metrics.finish({})) for vid, name in names.items()}
    revenue = _revenue_sums(session, run, names) if metric == "revenue" else {}
    counts = {
        name: Counts(
            delivered=group["delivered"],
            successes=group[RATE_METRICS[metric]] if metric in RATE_METRICS else 0,
            revenue=revenue.get(name, (0.0, 0.0))[0],
            revenue_squares=revenue.get(name, (0.0, 0.0))[1],
        )
        for name, group in groups.items()
    }
    # the planned split: the test group as assigned (round-robin, so equal within one member)
    planned = {name: max(group["recipients"], 1) for name, group in groups.items()}
    decision = decide(counts, metric, confidence, fallback, planned, min_sample).to_dict()
    decision["test_sizes"] = {name: group["recipients"] for name, group in groups.items()}
    return decision


def _revenue_sums(
    session: Session, run: Run, names: dict[int, str]
) -> dict[str, tuple[float, float]]:
    """Per variant: the sum and the sum of squares of revenue per converting recipient."""
    per_contact: dict[tuple[int | None, int], float] = defaultdict(float)
    for conversion in metrics.conversion_orders(session, [run.id]):
        per_contact[(conversion.variant_id, conversion.contact_id)] += float(conversion.revenue)
    totals: dict[str, list[float]] = {name: [0.0, 0.0] for name in names.values()}
    for (variant_id, _), revenue in per_contact.items():
        if variant_id in names:
            slot = totals[names[variant_id]]
            slot[0] += revenue
            slot[1] += revenue * revenue
    return {name: (total, squares) for name, (total, squares) in totals.items()}


def _decide(session: Session, settings: Settings, run_id: int, now: datetime) -> list[int]:
    run = session.get(Run, run_id)
    assert run is not None
    campaign = session.get(Campaign, run.campaign_id)
    assert campaign is not None
    decision = evaluate(session, run, campaign.ab_test or {}, settings.ab_min_sample)
    decision["decided_at"] = now.isoformat()
    winner_id = session.scalar(
        select(Variant.id).where(
            Variant.campaign_id == campaign.id, Variant.name == decision["send"]
        )
    )
    session.execute(
        update(Delivery)
        .where(Delivery.run_id == run.id, Delivery.status == st.HELD)
        .values(variant_id=winner_id, status=st.PENDING)
    )
    released = wakeups.release_held(session, run.id, now)
    campaign.ab_test = {**(campaign.ab_test or {}), "decision": decision}
    session.flush()
    # compare-and-set: a pause or cancel that landed while the decision was computed stands
    session.execute(
        update(Campaign)
        .where(Campaign.id == campaign.id, Campaign.status == "testing")
        .values(status="sending")
    )
    session.refresh(campaign)
    log.info(
        "A/B run %s of campaign %s: %s goes out (%s)",
        run.id,
        campaign.id,
        decision["send"],
        decision["reason"],
    )
    if not released:
        finish_run_if_done(session, run.id, settings, now)
    return released if campaign.status == "sending" else []
