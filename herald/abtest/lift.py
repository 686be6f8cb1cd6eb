"""The difference of two proportions with its interval: Newcombe's hybrid score interval
(method 10 of Newcombe 1998), built from the two Wilson score intervals. Used for a journey's
lift, entrants against the holdout. Pure functions, no I/O."""

from __future__ import annotations

import math
from statistics import NormalDist


def wilson(successes: int, n: int, confidence: float = 0.95) -> tuple[float, float]:
    """The Wilson score interval of ``successes / n``; ``(0, 1)`` when ``n`` is 0."""
    if n <= 0:
        return 0.0, 1.0
    z = NormalDist().inv_cdf(0.5 + confidence / 2)
    p = successes / n
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return max(0.0, centre - half), min(1.0, centre + half)


def newcombe_difference(
    x1: int, n1: int, x2: int, n2: int, confidence: float = 0.95
) -> tuple[float, tuple[float, float]]:
    """``p1 − p2`` (``x1/n1`` minus ``x2/n2``) and its Newcombe hybrid score interval. With an
    empty group the estimate is its rate difference against 0 and the interval is (−1, 1)."""
    if n1 <= 0 or n2 <= 0:
        return (x1 / n1 if n1 > 0 else 0.0) - (x2 / n2 if n2 > 0 else 0.0), (-1.0, 1.0)
    p1, p2 = x1 / n1, x2 / n2
    l1, u1 = wilson(x1, n1, confidence)
    l2, u2 = wilson(x2, n2, confidence)
    estimate = p1 - p2
    low = estimate - math.sqrt((p1 - l1) ** 2 + (u2 - p2) ** 2)
    high = estimate + math.sqrt((u1 - p1) ** 2 + (p2 - l2) ** 2)
    return estimate, (max(-1.0, low), min(1.0, high))
