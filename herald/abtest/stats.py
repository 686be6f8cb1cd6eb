"""The tests behind an A/B decision. Pure functions over counts, no I/O.

Every p-value is two-sided. Rates are compared with Pearson's chi-square on the 2×2 table with
Yates' continuity correction (the two-proportion z-test with continuity), or Fisher's exact test
when an expected cell is below 5, where the normal approximation is poor. Revenue per recipient
is compared with Welch's t-test. Several comparisons are adjusted with Holm's step-down method.
Sample-ratio mismatch is a chi-square goodness-of-fit of the delivered counts against the planned
split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from herald.abtest.distributions import (
    chi2_sf,
    log_beta,
    log_choose,
    normal_cdf,
    normal_quantile,
    t_sf,
)

# below this expected count in any cell the chi-square approximation is not trusted
FISHER_BELOW = 5.0
# SciPy's tolerance for "as extreme as observed" in Fisher's two-sided p-value
_RELATIVE_TIE = 1 + 1e-7


def expected_cells(x1: int, n1: int, x2: int, n2: int) -> list[float]:
    """The four expected counts of the 2×2 table (successes and failures of both groups)."""
    total = n1 + n2
    successes = x1 + x2
    failures = total - successes
    if total <= 0:
        return [0.0, 0.0, 0.0, 0.0]
    return [n * col / total for n in (n1, n2) for col in (successes, failures)]


def yates_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p of the two-proportion test with Yates' continuity correction (the corrected
    chi-square of the 2×2 table, as ``scipy.stats.chi2_contingency``). 1.0 for a degenerate
    table (an empty group, or no successes or no failures at all)."""
    cells = expected_cells(x1, n1, x2, n2)
    if n1 <= 0 or n2 <= 0 or min(cells) <= 0:
        return 1.0
    difference = abs(x1 - cells[0])  # the same |observed − expected| in all four cells
    corrected = max(0.0, difference - 0.5)
    chi2 = corrected**2 * sum(1 / e for e in cells)
    return chi2_sf(chi2, 1)


def fisher_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """Two-sided p of Fisher's exact test: the probability, with both margins fixed, of a table
    no more likely than the one observed (as ``scipy.stats.fisher_exact``)."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    successes, total = x1 + x2, n1 + n2
    low, high = max(0, successes - n2), min(n1, successes)
    denominator = log_choose(total, successes)

    def log_pmf(k: int) -> float:
        return log_choose(n1, k) + log_choose(n2, successes - k) - denominator

    observed = log_pmf(x1)
    threshold = observed + math.log(_RELATIVE_TIE)
    p = sum(math.exp(log_pmf(k)) for k in range(low, high + 1) if log_pmf(k) <= threshold)
    return min(1.0, p)


def rate_p(x1: int, n1: int, x2: int, n2: int) -> float:
    """The two-sided p-value of a rate comparison: Fisher's exact test for small expected
    cells, else the continuity-corrected two-proportion test."""
    if n1 <= 0 or n2 <= 0:
        return 1.0
    if min(expected_cells(x1, n1, x2, n2)) < FISHER_BELOW:
        return fisher_p(x1, n1, x2, n2)
    return yates_p(x1, n1, x2, n2)


@dataclass(frozen=True)
class Sample:
    """A per-recipient numeric outcome (e.g. revenue) summarised: count, sum, sum of squares."""

    n: int
    total: float
    squares: float

    @property
    def mean(self) -> float:
        """The sample mean (0 for an empty sample)."""
        return self.total / self.n if self.n else 0.0

    @property
    def variance(self) -> float:
        """The unbiased sample variance (0 below two values)."""
        if self.n < 2:
            return 0.0
        return max(0.0, (self.squares - self.n * self.mean**2) / (self.n - 1))


def welch(a: Sample, b: Sample) -> tuple[float, float, float]:
    """``(t, df, standard error)`` of Welch's unequal-variance t-test of mean(a) − mean(b)."""
    va, vb = a.variance / a.n, b.variance / b.n
    se = math.sqrt(va + vb)
    if se == 0:
        return 0.0, math.inf, 0.0
    df = (va + vb) ** 2 / (va**2 / (a.n - 1) + vb**2 / (b.n - 1))
    return (a.mean - b.mean) / se, df, se


def welch_p(a: Sample, b: Sample) -> float:
    """Two-sided p of Welch's t-test (as ``scipy.stats.ttest_ind(equal_var=False)``); 1.0 when a
    group has fewer than two values or neither group varies."""
    if a.n < 2 or b.n < 2:
        return 1.0
    t, df, se = welch(a, b)
    if se == 0:
        return 1.0
    return min(1.0, 2 * t_sf(abs(t), df))


def holm(p_values: Mapping[str, float]) -> dict[str, float]:
    """Holm's step-down adjustment (as ``statsmodels`` ``multipletests(method="holm")``)."""
    ordered = sorted(p_values, key=lambda name: p_values[name])
    m = len(ordered)
    out: dict[str, float] = {}
    running = 0.0
    for rank, name in enumerate(ordered):
        running = max(running, min(1.0, (m - rank) * p_values[name]))
        out[name] = running
    return out


def srm_p(delivered: Sequence[int], planned: Sequence[float]) -> float:
    """Chi-square goodness-of-fit p of the delivered counts against the planned split (weights,
    normalised here). 1.0 with fewer than two groups or nothing delivered."""
    total = sum(delivered)
    weight = sum(planned)
    if len(delivered) < 2 or total == 0 or weight <= 0:
        return 1.0
    expected = [total * w / weight for w in planned]
    if any(e <= 0 for e in expected):
        return (
            0.0 if any(d > 0 for d, e in zip(delivered, expected, strict=True) if e <= 0) else 1.0
        )
    chi2 = sum((d - e) ** 2 / e for d, e in zip(delivered, expected, strict=True))
    return chi2_sf(chi2, len(delivered) - 1)


def probability_to_beat(x: int, n: int, x_ref: int, n_ref: int) -> float:
    """P(p > p_ref) where p ~ Beta(1 + x, 1 + n − x) and p_ref ~ Beta(1 + x_ref, 1 + n_ref − x_ref)
    (uniform priors), by the exact finite sum over the smaller success count."""
    a, b = 1 + x, 1 + n - x
    c, d = 1 + x_ref, 1 + n_ref - x_ref
    if a > c:  # the sum runs over its first argument: use the symmetric form with fewer terms
        return 1.0 - _beats(c, d, a, b)
    return _beats(a, b, c, d)


def _beats(a: int, b: int, c: int, d: int) -> float:
    """P(X > Y), X ~ Beta(a, b), Y ~ Beta(c, d), whole a: Σ_{i<a} B(c+i, b+d) / ((b+i) B(1+i, b)
    B(c, d))."""
    base = log_beta(c, d)
    total = 0.0
    for i in range(a):
        total += math.exp(log_beta(c + i, b + d) - math.log(b + i) - log_beta(1 + i, b) - base)
    return min(1.0, max(0.0, total))


def mean_probability_to_beat(a: Sample, ref: Sample) -> float:
    """P(mean(a) > mean(ref)) under the normal approximation of both means (revenue)."""
    se = math.sqrt(a.variance / max(a.n, 1) + ref.variance / max(ref.n, 1))
    if se == 0:
        return 0.5 if a.mean == ref.mean else float(a.mean > ref.mean)
    return normal_cdf((a.mean - ref.mean) / se)


def sample_size(baseline: float, lift: float, confidence: float, power: float = 0.8) -> int:
    """Deliveries per variant needed to find an absolute ``lift`` over ``baseline`` with a
    two-sided test at ``confidence`` and the given ``power`` (Fleiss' formula with continuity
    correction, which matches the continuity-corrected test the decision uses)."""
    p1 = min(max(baseline, 0.0), 1.0)
    p2 = min(max(p1 + lift, 0.0), 1.0)
    delta = abs(p2 - p1)
    if delta == 0:
        raise ValueError("the lift must move the rate")
    z_alpha = normal_quantile(1 - (1 - confidence) / 2)
    z_beta = normal_quantile(power)
    mean = (p1 + p2) / 2
    root = z_alpha * math.sqrt(2 * mean * (1 - mean)) + z_beta * math.sqrt(
        p1 * (1 - p1) + p2 * (1 - p2)
    )
    uncorrected = root**2 / delta**2
    corrected = uncorrected / 4 * (1 + math.sqrt(1 + 4 / (uncorrected * delta))) ** 2
    return math.ceil(corrected - 1e-9)
