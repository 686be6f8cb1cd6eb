"""The one metrics module: stats API, admin pages, weekly report and exports all read these
functions, which follow the contract's definitions (section 9)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import and_, case, distinct, func, or_, select
from sqlalchemy.orm import Session

from herald.abtest import intervals
from herald.abtest.sentence import decision_sentence
from herald.audiences.models import Event
from herald.campaigns import attribution, promotions
from herald.campaigns import status as st
from herald.campaigns.attribution import ConversionOrder
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Campaign, Delivery, Run, Variant
from herald.campaigns.posts import RunPost
from herald.campaigns.promotions import Promotion

COUNTS = (
    "recipients",
    "sent",
    "delivered",
    "failed",
    "bounced",
    "suppressed",
    "skipped",
    "uncertain",
    "pending",
    "unique_opens",
    "opens",
    "machine_opens",
    "unique_clicks",
    "clicks",
    "unsubscribes",
    "complaints",
    "conversions",
    "coupons_issued",
    "coupons_redeemed",
)
RATES = ("open_rate", "click_rate", "ctor", "unsubscribe_rate", "conversion_rate")
# money per order and per recipient: derived like the rates, but not fractions
MONEY = ("average_order_value", "revenue_per_recipient")
# coupons (contract 15): redeemed / issued, and the totals of the orders that redeemed them
COUPON_RATES = ("coupon_redemption_rate",)
COUPON_MONEY = ("coupon_revenue",)
# the rates that carry a Wilson interval, with their numerators
INTERVALS = {
    "open_rate": "unique_opens",
    "click_rate": "unique_clicks",
    "conversion_rate": "conversions",
}
CONVERSION_WINDOW = timedelta(days=5)
SUPPRESSION_REASONS = ("suppressed", "no consent")


def ratio(numerator: float, denominator: float) -> float:
    """A rate; 0 when the denominator is 0."""
    return float(numerator) / float(denominator) if denominator else 0.0


def finish(counts: dict[str, Any]) -> dict[str, Any]:
    """Derive ``delivered`` and the rates from raw counts."""
    out = {name: int(counts.get(name, 0) or 0) for name in COUNTS}
    out["revenue"] = round(float(counts.get("revenue", 0) or 0), 2)
    out["delivered"] = max(0, out["sent"] - out["bounced"])
    delivered = out["delivered"]
    out["open_rate"] = ratio(out["unique_opens"], delivered)
    out["click_rate"] = ratio(out["unique_clicks"], delivered)
    out["ctor"] = ratio(out["unique_clicks"], out["unique_opens"])
    out["unsubscribe_rate"] = ratio(out["unsubscribes"], delivered)
    out["conversion_rate"] = ratio(out["conversions"], delivered)
    out["average_order_value"] = round(ratio(out["revenue"], out["conversions"]), 2)
    out["revenue_per_recipient"] = round(ratio(out["revenue"], delivered), 4)
    out["coupon_redemption_rate"] = ratio(out["coupons_redeemed"], out["coupons_issued"])
    out["coupon_revenue"] = round(float(counts.get("coupon_revenue", 0) or 0), 2)
    return out


def with_intervals(metrics: dict[str, Any], confidence: float) -> dict[str, Any]:
    """The metrics plus ``ci``: Wilson intervals of the open, click and conversion rates."""
    delivered = metrics["delivered"]
    ci = {
        rate: list(intervals.wilson(metrics[count], delivered, confidence))
        for rate, count in INTERVALS.items()
    }
    return {**metrics, "ci": ci}


# raw counts keyed by (run id, variant id): every source groups by both, so any set of runs can be
# summed from one read (the weekly report reads once for three weeks of runs)
Key = tuple[int, int | None]
RawCounts = dict[Key, dict[str, Any]]


def _ledger_counts(session: Session, run_ids: list[int]) -> RawCounts:
    """Counts per (run id, variant id) from the ledger."""
    skipped_by_policy = and_(
        Delivery.status == st.SKIPPED,
        or_(Delivery.reason.in_(SUPPRESSION_REASONS), Delivery.reason.like("frequency cap%")),
    )
    rows = session.execute(
        select(
            Delivery.run_id,
            Delivery.variant_id,
            func.count().label("recipients"),
            func.sum(case((Delivery.status == st.SENT, 1), else_=0)).label("sent"),
            func.sum(case((Delivery.status == st.FAILED, 1), else_=0)).label("failed"),
            func.sum(case((skipped_by_policy, 1), else_=0)).label("suppressed"),
            func.sum(case((Delivery.status == st.SKIPPED, 1), else_=0)).label("skipped"),
            func.sum(case((Delivery.uncertain.is_(True), 1), else_=0)).label("uncertain"),
            func.sum(case((Delivery.status.in_((st.PENDING, st.SENDING)), 1), else_=0)).label(
                "pending"
            ),
        )
        .where(Delivery.run_id.in_(run_ids))
        .group_by(Delivery.run_id, Delivery.variant_id)
    ).mappings()
    return _keyed(rows)


def _event_counts(session: Session, run_ids: list[int]) -> RawCounts:
    """Counts per (run id, variant id) from tracking events tied to the runs' deliveries."""
    human = Event.machine.is_(False)
    kinds = {
        "unique_opens": (Event.type == "email.opened") & human,
        "unique_clicks": Event.type.in_(attribution.CLICK_TYPES) & human,
    }
    rows = session.execute(
        select(
            Delivery.run_id,
            Delivery.variant_id,
            *[
                func.count(distinct(case((cond, Event.delivery_id)))).label(name)
                for name, cond in kinds.items()
            ],
            func.sum(case(((Event.type == "email.opened") & human, 1), else_=0)).label("opens"),
            func.sum(case(((Event.type == "email.opened") & ~human, 1), else_=0)).label(
                "machine_opens"
            ),
            func.sum(case((Event.type.in_(attribution.CLICK_TYPES) & human, 1), else_=0)).label(
                "clicks"
            ),
            func.count(distinct(case((Event.type == "unsubscribed", Event.delivery_id)))).label(
                "unsubscribes"
            ),
            func.count(distinct(case((Event.type == "complained", Event.delivery_id)))).label(
                "complaints"
            ),
            # a refusal at send time is already a failed row, not a sent one that bounced
            func.count(
                distinct(
                    case(
                        (
                            (Event.type == "bounced") & (Delivery.status == st.SENT),
                            Event.delivery_id,
                        )
                    )
                )
            ).label("bounced"),
        )
        .join(Delivery, Delivery.id == Event.delivery_id)
        # every event tied to a delivery carries its run (feedback, track_ingest and sms_feedback
        # copy it in the same write): the run filter on events lets ix_events_run_id read only
        # these runs' events instead of every event ever recorded
        .where(Event.run_id.in_(run_ids), Delivery.run_id.in_(run_ids))
        .group_by(Delivery.run_id, Delivery.variant_id)
    ).mappings()
    return _keyed(rows)


def conversion_orders(session: Session, run_ids: list[int]) -> list[ConversionOrder]:
    """Every order credited to these runs: one credit per order across all campaigns (coupon
    first, else the last human click within 5 days; see :mod:`herald.campaigns.attribution`)."""
    return attribution.conversion_orders(session, run_ids)


def _coupon_counts(session: Session, run_ids: list[int]) -> RawCounts:
    """Coupons issued by the runs' sent deliveries, how many of them were redeemed and the
    revenue of the orders that redeemed them, per (run id, variant id)."""
    redeemed = Coupon.redeemed_at.is_not(None)
    rows = session.execute(
        select(
            Coupon.run_id,
            Delivery.variant_id,
            func.count(Coupon.id).label("coupons_issued"),
            func.sum(case((redeemed, 1), else_=0)).label("coupons_redeemed"),
            func.sum(case((redeemed, func.coalesce(Coupon.order_total, 0)), else_=0)).label(
                "coupon_revenue"
            ),
        )
        .select_from(Coupon)
        .join(Delivery, Delivery.id == Coupon.delivery_id)
        # issued = handed to the member: a code whose message failed was never seen
        .where(Coupon.run_id.in_(run_ids), Delivery.status == st.SENT)
        .group_by(Coupon.run_id, Delivery.variant_id)
    ).mappings()
    return _keyed(rows)


def _keyed(rows: Iterable[Any]) -> RawCounts:
    return {
        (row["run_id"], row["variant_id"]): {
            k: v for k, v in row.items() if k not in ("run_id", "variant_id")
        }
        for row in rows
    }


def _conversions(session: Session, run_ids: list[int]) -> RawCounts:
    out: RawCounts = {}
    for conversion in conversion_orders(session, run_ids):
        key = (conversion.run_id, conversion.variant_id)
        slot = out.setdefault(key, {"conversions": 0, "revenue": Decimal(0)})
        slot["conversions"] += 1
        slot["revenue"] += conversion.revenue
    return out


def _merge(*parts: RawCounts) -> RawCounts:
    merged: RawCounts = {}
    for part in parts:
        for key, values in part.items():
            slot = merged.setdefault(key, {})
            for name, value in values.items():
                slot[name] = (slot.get(name) or 0) + (value or 0)
    return merged


def _sum(groups: Iterable[dict[str, Any]]) -> dict[str, Any]:
    total: dict[str, Any] = {}
    for group in groups:
        for name, value in group.items():
            total[name] = (total.get(name) or 0) + (value or 0)
    return total


def raw_counts(session: Session, run_ids: list[int]) -> RawCounts:
    """Every source's raw counts over the runs, per (run id, variant id): one query per source
    whatever the number of runs. :func:`stats_from` turns any subset of them into metrics."""
    if not run_ids:
        return {}
    return _merge(
        _ledger_counts(session, run_ids),
        _event_counts(session, run_ids),
        _conversions(session, run_ids),
        _coupon_counts(session, run_ids),
    )


def stats_from(
    raw: RawCounts, run_ids: Iterable[int]
) -> tuple[dict[str, Any], dict[int | None, dict[str, Any]]]:
    """Total and per-variant-id metrics of ``run_ids`` from counts read by :func:`raw_counts`
    (over these runs or more): the same numbers :func:`runs_stats` gives for them."""
    wanted = set(run_ids)
    per_variant: dict[int | None, dict[str, Any]] = {}
    for (run_id, variant_id), values in raw.items():
        if run_id not in wanted:
            continue
        slot = per_variant.setdefault(variant_id, {})
        for name, value in values.items():
            slot[name] = (slot.get(name) or 0) + (value or 0)
    return finish(_sum(per_variant.values())), {k: finish(v) for k, v in per_variant.items()}


def runs_stats(
    session: Session, run_ids: list[int]
) -> tuple[dict[str, Any], dict[int | None, dict[str, Any]]]:
    """Total metrics and per-variant-id metrics over a set of runs."""
    if not run_ids:
        return finish({}), {}
    return stats_from(raw_counts(session, run_ids), run_ids)


def campaign_stats(session: Session, campaign: Campaign) -> dict[str, Any]:
    """``GET /campaigns/{id}/stats``: totals, per-variant metrics and the A/B outcome."""
    run_ids = list(session.scalars(select(Run.id).where(Run.campaign_id == campaign.id)))
    total, per_variant = runs_stats(session, run_ids)
    names = dict(
        session.execute(
            select(Variant.id, Variant.name).where(Variant.campaign_id == campaign.id)
        ).all()
    )
    confidence = float((campaign.ab_test or {}).get("confidence", 0.95))
    variants = {
        name: with_intervals(per_variant.get(vid, finish({})), confidence)
        for vid, name in names.items()
    }
    decision = (campaign.ab_test or {}).get("decision")
    if decision:
        decision = {
            **decision,
            "sentence": decision_sentence(decision, remaining(session, campaign)),
        }
    return {
        "campaign_id": campaign.id,
        "status": campaign.status,
        "runs": len(run_ids),
        "total": total,
        "variants": variants,
        "winner": (decision or {}).get("winner"),
        "decision": decision,
        "social": social_stats(session, run_ids),
    }


def remaining(session: Session, campaign: Campaign) -> int | None:
    """How many members of the A/B run were held for the winner (None without a test run)."""
    ab = campaign.ab_test or {}
    run = session.get(Run, ab["run_id"]) if ab.get("run_id") else None
    if run is None or run.recipients is None:
        return None
    return max(0, int(run.recipients) - int(ab.get("test_size") or 0))


def social_stats(session: Session, run_ids: list[int]) -> dict[str, Any] | None:
    """Posts of per-run channels and their engagement as last read back; None when none."""
    if not run_ids:
        return None
    posts = list(session.scalars(select(RunPost).where(RunPost.run_id.in_(run_ids))))
    if not posts:
        return None
    out: dict[str, Any] = {"posts": sum(p.status == "sent" for p in posts)}
    for name in ("favourites_count", "reblogs_count", "replies_count"):
        out[name.removesuffix("_count")] = sum(
            int((p.engagement or {}).get(name, 0)) for p in posts
        )
    out["urls"] = [p.url for p in posts if p.url]
    fetched = [p.fetched_at for p in posts if p.fetched_at]
    out["fetched_at"] = max(fetched).isoformat() if fetched else None
    return out


def promotion_report(session: Session, promotion: Promotion) -> dict[str, Any]:
    """``GET /promotions/{id}/report``: the metrics of every campaign of the promotion (its
    journeys' message steps included), in total and per channel, its coupons, its attributed
    orders and revenue (an order counts once, whichever of its campaigns it is credited to),
    and the goal with whether it was reached."""
    runs = session.execute(
        select(Run.id, Campaign.channel, Campaign.id)
        .join(Campaign, Campaign.id == Run.campaign_id)
        .where(Campaign.promotion_id == promotion.id)
    ).all()
    run_ids = [run_id for run_id, _, _ in runs]
    totals, _ = runs_stats(session, run_ids)
    channels = {
        channel: runs_stats(session, [r for r, c, _ in runs if c == channel])[0]
        for channel in sorted({c for _, c, _ in runs})
    }
    credited = {c.order_id: c.revenue for c in conversion_orders(session, run_ids)}
    orders, revenue = len(credited), float(sum(credited.values(), Decimal(0)))
    reached_value = {
        "revenue": revenue,
        "orders": orders,
        "signups": None,
    }.get(promotion.goal_metric or "")
    if promotion.goal_metric == "signups":
        reached_value = signups(session, promotion)
    target = float(promotion.goal_target) if promotion.goal_target is not None else None
    return {
        "promotion": promotions.to_dict(promotion),
        "totals": totals,
        "channels": channels,
        # the same count as every campaign's stats: codes on sent deliveries
        "coupons": {"issued": totals["coupons_issued"], "redeemed": totals["coupons_redeemed"]},
        "orders": orders,
        "revenue": round(revenue, 2),
        "goal": {
            "metric": promotion.goal_metric,
            "target": target,
            "value": reached_value,
            "progress": ratio(reached_value or 0, target) if target else None,
            "reached": bool(target is not None and (reached_value or 0) >= target),
        },
        "budget": float(promotion.budget) if promotion.budget is not None else None,
        "campaigns": len({campaign for _, _, campaign in runs}),
    }


def signups(session: Session, promotion: Promotion) -> int:
    """Members who signed up (``customer.created``) during the promotion, each once."""
    return int(
        session.scalar(
            select(func.count(distinct(Event.contact_id))).where(
                Event.type == "customer.created",
                Event.occurred_at >= promotion.starts_at,
                Event.occurred_at <= promotion.ends_at,
            )
        )
        or 0
    )
