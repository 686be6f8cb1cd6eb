"""The few distribution functions the tests need, in plain Python (SciPy is a test dependency
only): the normal, chi-square, Student t, hypergeometric and Beta distributions."""

from __future__ import annotations

import math
from statistics import NormalDist

_NORMAL = NormalDist()
_EPS = 1e-16
_TINY = 1e-300


def normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def normal_cdf(z: float) -> float:
    """P(Z ≤ z) for a standard normal Z."""
    return 0.5 * math.erfc(-z / math.sqrt(2))


def normal_quantile(q: float) -> float:
    """The z with P(Z ≤ z) = q."""
    return _NORMAL.inv_cdf(q)


def two_sided_z(confidence: float) -> float:
    """The critical z of a two-sided interval at ``confidence`` (1.959964 at 0.95)."""
    return _NORMAL.inv_cdf(1 - (1 - confidence) / 2)


def chi2_sf(x: float, dof: int) -> float:
    """P(X > x) for a chi-square variable with a whole number of degrees of freedom."""
    if x <= 0:
        return 1.0
    return upper_gamma_regularised(dof / 2, x / 2)


def upper_gamma_regularised(a: float, x: float) -> float:
    """Q(a, x) = Γ(a, x) / Γ(a): the series below ``a + 1``, the continued fraction above."""
    if x <= 0:
        return 1.0
    log_front = -x + a * math.log(x) - math.lgamma(a)
    if x < a + 1:
        term = total = 1.0 / a
        n = a
        for _ in range(100_000):
            n += 1
            term *= x / n
            total += term
            if abs(term) < abs(total) * _EPS:
                break
        return max(0.0, 1.0 - total * math.exp(log_front))
    # modified Lentz for the continued fraction of Γ(a, x)
    b = x + 1 - a
    c = 1 / _TINY
    d = 1 / b
    h = d
    for i in range(1, 100_000):
        an = -i * (i - a)
        b += 2
        d = an * d + b
        d = _TINY if abs(d) < _TINY else d
        c = b + an / c
        c = _TINY if abs(c) < _TINY else c
        d = 1 / d
        delta = d * c
        h *= delta
        if abs(delta - 1) < _EPS:
            break
    return min(1.0, math.exp(log_front) * h)


def beta_regularised(a: float, b: float, x: float, y: float | None = None) -> float:
    """I_x(a, b), the regularised incomplete Beta function (continued fraction, Lentz). ``y`` is
    1 − x when the caller knows it more precisely than the subtraction would give it."""
    y = 1 - x if y is None else y
    if x <= 0:
        return 0.0
    if y <= 0:
        return 1.0
    if x > (a + 1) / (a + b + 2):
        return 1.0 - _beta_fraction(b, a, y, x)
    return _beta_fraction(a, b, x, y)


def _beta_fraction(a: float, b: float, x: float, y: float) -> float:
    log_front = math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x)
    log_front += b * math.log(y)
    c, d = 1.0, 1 - (a + b) * x / (a + 1)
    d = 1 / (_TINY if abs(d) < _TINY else d)
    h = d
    for m in range(1, 100_000):
        m2 = 2 * m
        for numerator in (
            m * (b - m) * x / ((a + m2 - 1) * (a + m2)),
            -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1)),
        ):
            d = 1 + numerator * d
            d = 1 / (_TINY if abs(d) < _TINY else d)
            c = 1 + numerator / c
            c = _TINY if abs(c) < _TINY else c
            h *= d * c
        if abs(d * c - 1) < _EPS:
            break
    return math.exp(log_front) * h / a


def t_sf(t: float, df: float) -> float:
    """P(T > t) for Student's t with ``df`` (not necessarily whole) degrees of freedom."""
    if math.isinf(df):
        return normal_sf(t)
    square = t * t
    tail = 0.5 * beta_regularised(df / 2, 0.5, df / (df + square), square / (df + square))
    return tail if t >= 0 else 1 - tail


def t_quantile(q: float, df: float) -> float:
    """The t with P(T ≤ t) = q (bisection on :func:`t_sf`, to 1e-12)."""
    if q == 0.5:
        return 0.0
    if q < 0.5:
        return -t_quantile(1 - q, df)
    low, high = 0.0, 1.0
    while t_sf(high, df) > 1 - q:
        high *= 2
    for _ in range(200):
        mid = (low + high) / 2
        if t_sf(mid, df) > 1 - q:
            low = mid
        else:
            high = mid
        if high - low < 1e-13 * max(1.0, high):
            break
    return (low + high) / 2


def log_choose(n: int, k: int) -> float:
    """log C(n, k)."""
    return math.lgamma(n + 1) - math.lgamma(k + 1) - math.lgamma(n - k + 1)


def log_beta(a: float, b: float) -> float:
    """log B(a, b)."""
    return math.lgamma(a) + math.lgamma(b) - math.lgamma(a + b)
