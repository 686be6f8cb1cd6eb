"""The statistics behind an A/B decision. Pure functions, no I/O.

Rates (open, click, conversion) use a one-sided two-proportion z-test; revenue per recipient
uses a one-sided Welch test on the normal approximation (test groups are hundreds or more).
With more than two variants the leader must beat every other one, at a Bonferroni-corrected
level. Sample-ratio mismatch is checked with a chi-square test on the group sizes.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from statistics import NormalDist

_NORMAL = NormalDist()


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def two_proportion_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """One-sided p-value that rate 1 (x1/n1) exceeds rate 2, pooled-variance z-test. 1.0 when
    there is nothing to compare."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    p1, p2 = x1 / n1, x2 / n2
    pooled = (x1 + x2) / (n1 + n2)
    variance = pooled * (1 - pooled) * (1 / n1 + 1 / n2)
    if variance <= 0:
        return 1.0 if p1 <= p2 else 0.0
    return normal_sf((p1 - p2) / math.sqrt(variance))


@dataclass(frozen=True)
class Sample:
    """Summary of a per-recipient numeric outcome (e.g. revenue): count, sum, sum of squares."""

    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.n * self.mean**2) / (self.n - 1))


def welch_p(a: Sample, b: Sample) -> float:
    """One-sided p-value that the mean of ``a`` exceeds that of ``b`` (normal approximation)."""
    if a.n < 2 or b.n < 2:
        return 1.0
    se = math.sqrt(a.variance / a.n + b.variance / b.n)
    if se == 0:
        return 1.0 if a.mean <= b.mean else 0.0
    return normal_sf((a.mean - b.mean) / se)


def srm_p(observed: Mapping[str, int]) -> float:
    """Chi-square p-value that the groups were meant to be equal in size (sample-ratio
    mismatch when tiny)."""
    total = sum(observed.values())
    k = len(observed)
    if k < 2 or total == 0:
        return 1.0
    expected = total / k
    chi2 = sum((count - expected) ** 2 / expected for count in observed.values())
    return chi2_sf(chi2, k - 1)


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-square variable with a whole number of degrees of freedom (the closed
    forms of the regularised upper gamma function)."""
    half = x / 2
    if half <= 0:
        return 1.0
    if dof % 2 == 0:
        term, total = 1.0, 1.0
        for i in range(1, dof // 2):
            term *= half / i
            total += term
        return min(1.0, math.exp(-half) * total)
    total = math.erfc(math.sqrt(half))
    for i in range(1, (dof + 1) // 2):
        total += math.exp(-half + (i - 0.5) * math.log(half) - math.lgamma(i + 0.5))
    return min(1.0, total)


@dataclass(frozen=True)
class Verdict:
    """The leader, whether it won at the requested confidence, and the evidence."""

    leader: str | None
    significant: bool
    p_values: dict[str, float]
    alpha: float


def choose(
    values: Mapping[str, float], p_against: Mapping[str, float], confidence: float
) -> Verdict:
    """Given each variant's metric value and the leader's one-sided p-value against each other
    variant, say whether the leader wins at ``confidence`` (Bonferroni over the comparisons)."""
    if not values:
        return Verdict(None, False, {}, 1 - confidence)
    leader = max(values, key=lambda name: (values[name], name == min(values)))
    others = [name for name in values if name != leader]
    alpha = (1 - confidence) / max(1, len(others))
    p_values = {name: p_against[name] for name in others}
    significant = bool(others) and all(p < alpha for p in p_values.values())
    return Verdict(leader, significant, p_values, alpha)


def z_for(confidence: float) -> float:
    """The one-sided critical z for a confidence level."""
    return _NORMAL.inv_cdf(confidence)
