"""A decision in a marketer's words, e.g. "B beat A on click rate by 1.2 points, 95% CI 0.4 to
2.0; p = 0.003 after Holm; B went to the remaining 80,000". Pure: it reads a stored decision."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

METRIC_WORDS = {
    "open_rate": "open rate",
    "click_rate": "click rate",
    "conversion_rate": "conversion rate",
    "revenue": "revenue per recipient",
}


def _p(value: float) -> str:
    return "p < 0.001" if value < 0.001 else f"p = {value:.3f}"


def _amount(value: float | None, metric: str) -> str:
    if value is None:
        return "unbounded"
    if metric == "revenue":
        return f"{value:,.2f}"
    return f"{value * 100:.1f}"


def _unit(metric: str) -> str:
    return "" if metric == "revenue" else " points"


def _remainder(send: str, remaining: int | None, fallback_used: bool) -> str:
    who = f"{send}, the fallback," if fallback_used else send
    if remaining is None:
        return f"{who} goes to the rest of the audience"
    if remaining == 0:
        return f"nobody was left for {send}" if not fallback_used else "nobody was left to send"
    return f"{who} went to the remaining {remaining:,}"


def decision_sentence(decision: Mapping[str, Any] | None, remaining: int | None = None) -> str:
    """The sentence for a stored decision (``Decision.to_dict()``); ``remaining`` is the size of
    the audience held for the winner, when known."""
    if not decision:
        return "The A/B test has not been decided yet."
    metric = decision.get("metric", "click_rate")
    words = METRIC_WORDS.get(metric, metric)
    fallback = decision.get("fallback") or decision.get("send") or "the fallback"
    send = decision.get("send") or decision.get("winner") or fallback
    reason = decision.get("reason")
    level = f"{round(float(decision.get('confidence', 0.95)) * 100):g}%"
    if reason == "srm":
        srm = float(decision.get("srm_p", 0.0))
        return (
            "No winner: the test groups' delivered counts are off the planned split "
            f"(sample-ratio check {_p(srm)}, below 0.001), so the result cannot be trusted; "
            f"{_remainder(send, remaining, True)}."
        )
    if reason == "too_few":
        needed = decision.get("needed_per_variant")
        if needed and metric != "revenue":
            why = f"needs {int(needed):,} per variant for a 1-point lift"
        else:
            why = f"needs at least {int(decision.get('min_sample', 0)):,} delivered per variant"
        return f"Too few deliveries to decide ({why}); {_remainder(send, remaining, True)}."
    leader = decision.get("leader") or send
    lift = (decision.get("lift") or {}).get(leader if leader != fallback else "", None)
    p_values = decision.get("p_values") or {}
    if reason == "significant" and leader != fallback and lift:
        low, high = lift["ci"]
        return (
            f"{leader} beat {fallback} on {words} by {_amount(lift['estimate'], metric)}"
            f"{_unit(metric)}, {level} CI {_amount(low, metric)} to {_amount(high, metric)}; "
            f"{_p(float(p_values.get(fallback, max(p_values.values(), default=0.0))))} after "
            f"Holm; {_remainder(send, remaining, False)}."
        )
    if reason == "significant":
        worst = max(p_values.values(), default=0.0)
        return (
            f"{fallback} beat every other variant on {words} ({_p(worst)} after Holm); "
            f"{_remainder(send, remaining, False)}."
        )
    # not significant: show how far the leader was from the fallback, honestly
    if lift:
        low, high = lift["ci"]
        p = p_values.get(fallback, max(p_values.values(), default=1.0))
        evidence = (
            f"{leader} led {fallback} on {words} by {_amount(lift['estimate'], metric)}"
            f"{_unit(metric)}, {level} CI {_amount(low, metric)} to {_amount(high, metric)}; "
            f"{_p(float(p))} after Holm"
        )
    else:
        evidence = f"{fallback} led on {words}, but not clearly"
    return f"No clear winner at {level}: {evidence}; {_remainder(send, remaining, True)}."
