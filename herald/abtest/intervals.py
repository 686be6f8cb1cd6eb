"""Confidence intervals: Wilson's score interval for a rate, Newcombe's hybrid score interval
for the difference of two rates, Welch's interval for a difference of means. Pure functions."""

from __future__ import annotations

import math

from herald.abtest.distributions import t_quantile, two_sided_z
from herald.abtest.stats import Sample, welch

Interval = tuple[float, float]


def wilson(x: int, n: int, confidence: float = 0.95) -> Interval:
    """Wilson's score interval for x successes out of n (as statsmodels' ``proportion_confint(
    method="wilson")``); ``(0, 1)`` when n is 0: nothing is known."""
    if n <= 0:
        return (0.0, 1.0)
    z = two_sided_z(confidence)
    p = x / n
    z2 = z * z
    centre = (p + z2 / (2 * n)) / (1 + z2 / n)
    half = z / (1 + z2 / n) * math.sqrt(p * (1 - p) / n + z2 / (4 * n * n))
    low, high = centre - half, centre + half
    # the exact bounds at the edges; arithmetic leaves a hair of rounding there
    return (0.0 if x == 0 else max(0.0, low), 1.0 if x == n else min(1.0, high))


def newcombe(x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95) -> Interval:
    """Newcombe's hybrid score interval (method 10) for p1 − p2 (as statsmodels'
    ``confint_proportions_2indep(method="newcomb")``)."""
    p1 = x1 / n1 if n1 else 0.0
    p2 = x2 / n2 if n2 else 0.0
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    difference = p1 - p2
    low = difference - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = difference + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return (max(-1.0, low), min(1.0, high))


def welch_interval(a: Sample, b: Sample, confidence: float = 0.95) -> Interval:
    """Welch's interval for mean(a) − mean(b); the point itself when neither group varies, and
    unbounded when a group has fewer than two values."""
    difference = a.mean - b.mean
    if a.n < 2 or b.n < 2:
        return (-math.inf, math.inf)
    _, df, se = welch(a, b)
    if se == 0:
        return (difference, difference)
    half = t_quantile(1 - (1 - confidence) / 2, df) * se
    return (difference - half, difference + half)
