"""The Newcombe difference interval behind a journey's lift, against scipy's Wilson intervals
and the worked example of Newcombe (1998)."""

from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest

from herald.abtest.lift import newcombe_difference, wilson


@pytest.mark.parametrize(("x", "n"), [(0, 10), (1, 10), (56, 70), (48, 80), (500, 1000), (10, 10)])
def test_wilson_matches_scipy(x: int, n: int) -> None:
    expected = binomtest(x, n).proportion_ci(confidence_level=0.95, method="wilson")
    low, high = wilson(x, n)
    assert math.isclose(low, expected.low, abs_tol=1e-9)
    assert math.isclose(high, expected.high, abs_tol=1e-9)


def test_newcombe_worked_example() -> None:
    # Newcombe (1998), Statistics in Medicine 17:873, example (a), method 10
    estimate, (low, high) = newcombe_difference(56, 70, 48, 80)
    assert round(estimate, 4) == 0.2
    assert (round(low, 4), round(high, 4)) == (0.0524, 0.3339)


def test_newcombe_from_scipy_wilson_limits() -> None:
    a = binomtest(30, 400).proportion_ci(method="wilson")
    b = binomtest(12, 380).proportion_ci(method="wilson")
    p1, p2 = 30 / 400, 12 / 380
    estimate, (low, high) = newcombe_difference(30, 400, 12, 380)
    assert math.isclose(low, p1 - p2 - math.hypot(p1 - a.low, b.high - p2), abs_tol=1e-12)
    assert math.isclose(high, p1 - p2 + math.hypot(a.high - p1, p2 - b.low), abs_tol=1e-12)
    assert low < estimate < high


def test_an_empty_group_gives_the_widest_interval() -> None:
    assert newcombe_difference(3, 10, 0, 0) == (0.3, (-1.0, 1.0))
