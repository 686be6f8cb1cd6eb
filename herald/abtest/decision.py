"""The A/B decision, a pure function of the counts per variant (contract sections 8, 9, 13).

In order: a sample-ratio mismatch on the delivered counts (p below :data:`SRM_ALPHA`) blocks any
decision; a variant below the minimum sample means too few deliveries; otherwise the best variant
is compared two-sided with every other one, Holm-adjusted, and wins only when it beats all of
them at the configured confidence. Whatever the outcome, the remainder of the audience gets a
variant: the winner, else the fallback.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from herald.abtest import intervals, stats

RATE_METRICS = ("open_rate", "click_rate", "conversion_rate")
METRICS = (*RATE_METRICS, "revenue")
SRM_ALPHA = 0.001
DEFAULT_MIN_SAMPLE = 100
# the lift the "too few" sentence sizes a test for: one point of a rate
SIZING_LIFT = 0.01
SIZING_POWER = 0.8


@dataclass(frozen=True)
class Counts:
    """One variant's test group: deliveries, successes of the rate metric (opens, clicks or
    conversions), and for revenue the sum and sum of squares of revenue per delivered
    recipient."""

    delivered: int
    successes: int = 0
    revenue: float = 0.0
    revenue_squares: float = 0.0

    def sample(self) -> stats.Sample:
        """Revenue per recipient as a sample summary."""
        return stats.Sample(self.delivered, self.revenue, self.revenue_squares)


@dataclass(frozen=True)
class Decision:
    """The outcome and its evidence, keyed by variant name. ``winner`` is the variant declared
    (or the fallback when it was used; None on a sample-ratio mismatch); ``send`` is the variant
    the remainder gets."""

    winner: str | None
    send: str
    reason: str  # significant | fallback | too_few | srm
    metric: str
    confidence: float
    fallback: str
    leader: str | None
    min_sample: int
    srm_p: float
    values: dict[str, float]
    delivered: dict[str, int]
    p_values: dict[str, float] = field(default_factory=dict)
    probability_to_beat: dict[str, float] = field(default_factory=dict)
    lift: dict[str, dict[str, Any]] = field(default_factory=dict)
    needed_per_variant: int | None = None

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready dict (infinite interval ends become null)."""
        return _finite(asdict(self))


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value


def value_of(counts: Counts, metric: str) -> float:
    """The metric's value for one variant: a rate, or revenue per recipient."""
    if metric == "revenue":
        return counts.sample().mean
    return counts.successes / counts.delivered if counts.delivered else 0.0


def compare_p(a: Counts, b: Counts, metric: str) -> float:
    """The two-sided p-value of variant a against b on the metric."""
    if metric == "revenue":
        return stats.welch_p(a.sample(), b.sample())
    return stats.rate_p(a.successes, a.delivered, b.successes, b.delivered)


def lift_of(a: Counts, ref: Counts, metric: str, confidence: float) -> dict[str, Any]:
    """a's absolute difference from ref on the metric, with its interval."""
    if metric == "revenue":
        low, high = intervals.welch_interval(a.sample(), ref.sample(), confidence)
    else:
        low, high = intervals.newcombe(
            a.successes, a.delivered, ref.successes, ref.delivered, confidence
        )
    return {"estimate": value_of(a, metric) - value_of(ref, metric), "ci": [low, high]}


def beat_probability(a: Counts, ref: Counts, metric: str) -> float:
    """The posterior probability that a beats ref (Beta posteriors for rates, normal for
    revenue)."""
    if metric == "revenue":
        return stats.mean_probability_to_beat(a.sample(), ref.sample())
    return stats.probability_to_beat(a.successes, a.delivered, ref.successes, ref.delivered)


def needed_per_variant(baseline: float, confidence: float, variants: int) -> int:
    """Deliveries per variant to find a one-point lift over ``baseline`` (the comparisons with
    the best are Bonferroni-sized, which Holm never needs more than)."""
    comparisons = max(1, variants - 1)
    adjusted = 1 - (1 - confidence) / comparisons
    return stats.sample_size(min(max(baseline, 0.0), 0.98), SIZING_LIFT, adjusted, SIZING_POWER)


def decide(
    counts: Mapping[str, Counts],
    metric: str,
    confidence: float,
    fallback: str,
    planned: Mapping[str, float] | None = None,
    min_sample: int = DEFAULT_MIN_SAMPLE,
) -> Decision:
    """Decide an A/B test from its counts. ``planned`` is the intended split (weights per
    variant; equal when None); ``min_sample`` the deliveries each variant needs."""
    if metric not in METRICS:
        raise ValueError(f"unknown metric {metric!r}")
    if fallback not in counts:
        raise ValueError(f"the fallback {fallback!r} is not a variant")
    names = list(counts)
    values = {name: value_of(counts[name], metric) for name in names}
    delivered = {name: counts[name].delivered for name in names}
    weights = [float((planned or {}).get(name, 1.0)) for name in names]
    srm = stats.srm_p([delivered[name] for name in names], weights)
    # ties go to the fallback, then to the earlier name: never to the luckier-looking newcomer
    leader = min(names, key=lambda name: (-values[name], name != fallback, name))
    common: dict[str, Any] = {
        "metric": metric,
        "confidence": confidence,
        "fallback": fallback,
        "min_sample": min_sample,
        "srm_p": srm,
        "values": values,
        "delivered": delivered,
        "lift": {
            name: lift_of(counts[name], counts[fallback], metric, confidence)
            for name in names
            if name != fallback
        },
        "probability_to_beat": {
            name: beat_probability(counts[name], counts[fallback], metric)
            for name in names
            if name != fallback
        },
    }
    if srm < SRM_ALPHA:
        return Decision(winner=None, send=fallback, reason="srm", leader=leader, **common)
    if min(delivered.values()) < min_sample:
        baseline = values[fallback] if metric != "revenue" else 0.0
        needed = (
            needed_per_variant(baseline, confidence, len(names)) if metric != "revenue" else None
        )
        return Decision(
            winner=fallback,
            send=fallback,
            reason="too_few",
            leader=leader,
            needed_per_variant=max(needed or 0, min_sample) if needed else None,
            **common,
        )
    raw = {
        name: compare_p(counts[leader], counts[name], metric) for name in names if name != leader
    }
    adjusted = stats.holm(raw)
    significant = bool(adjusted) and all(p < 1 - confidence for p in adjusted.values())
    chosen = leader if significant else fallback
    return Decision(
        winner=chosen,
        send=chosen,
        reason="significant" if significant else "fallback",
        leader=leader,
        p_values=adjusted,
        **common,
    )
