"""A/B statistics against SciPy, the plain reference implementation."""

from __future__ import annotations

import math

import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from scipy import stats as scipy_stats

from herald.abtest import stats
from herald.abtest.assign import test_size as size_of_test

counts = st.integers(min_value=1, max_value=20_000)


@given(counts, counts, st.data())
@settings(max_examples=300)
def test_the_two_proportion_test_matches_scipy(n1, n2, data):
    x1 = data.draw(st.integers(0, n1))
    x2 = data.draw(st.integers(0, n2))
    pooled = (x1 + x2) / (n1 + n2)
    assume(0 < pooled < 1)
    z = (x1 / n1 - x2 / n2) / math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    expected = scipy_stats.norm.sf(z)
    assert stats.two_proportion_p(x1, n1, x2, n2) == pytest.approx(expected, rel=1e-9, abs=1e-12)


@given(
    st.lists(st.floats(0, 500, allow_nan=False), min_size=2, max_size=60),
    st.lists(st.floats(0, 500, allow_nan=False), min_size=2, max_size=60),
)
@settings(max_examples=200)
def test_welch_matches_scipys_normal_approximation(a, b):
    sa = stats.Sample(len(a), sum(a), sum(x * x for x in a))
    sb = stats.Sample(len(b), sum(b), sum(x * x for x in b))
    va = scipy_stats.tvar(a) if len(set(a)) > 1 else 0.0
    vb = scipy_stats.tvar(b) if len(set(b)) > 1 else 0.0
    se = math.sqrt(va / len(a) + vb / len(b))
    assume(se > 1e-6)
    expected = scipy_stats.norm.sf((sum(a) / len(a) - sum(b) / len(b)) / se)
    assert stats.welch_p(sa, sb) == pytest.approx(expected, rel=1e-6, abs=1e-9)


@given(st.lists(st.integers(0, 5000), min_size=2, max_size=5))
def test_sample_ratio_mismatch_matches_scipys_chi_square(groups):
    assume(sum(groups) >= 50)
    observed = {f"v{i}": n for i, n in enumerate(groups)}
    exact = scipy_stats.chisquare(groups).pvalue
    assert stats.srm_p(observed) == pytest.approx(exact, rel=1e-6, abs=1e-12)


@given(st.floats(0, 200), st.integers(1, 12))
def test_the_chi_square_tail_matches_scipy(x, dof):
    assert stats.chi2_sf(x, dof) == pytest.approx(scipy_stats.chi2.sf(x, dof), rel=1e-7, abs=1e-12)


def test_a_clear_leader_wins_and_a_tie_does_not():
    p = stats.two_proportion_p(120, 1000, 80, 1000)
    assert stats.choose({"A": 0.08, "B": 0.12}, {"A": p}, 0.95).significant
    tie = stats.two_proportion_p(100, 1000, 100, 1000)
    verdict = stats.choose({"A": 0.1, "B": 0.1}, {"B": tie}, 0.95)
    assert not verdict.significant


def test_three_variants_need_the_bonferroni_level():
    verdict = stats.choose({"A": 0.12, "B": 0.10, "C": 0.10}, {"B": 0.02, "C": 0.02}, 0.95)
    assert verdict.alpha == pytest.approx(0.025) and verdict.significant
    verdict = stats.choose({"A": 0.12, "B": 0.10, "C": 0.10}, {"B": 0.03, "C": 0.01}, 0.95)
    assert not verdict.significant


@given(st.integers(0, 10**7), st.floats(0.01, 1.0))
def test_the_test_group_is_the_fraction_rounded_down(audience, fraction):
    size = size_of_test(audience, fraction)
    assert 0 <= size <= audience
    assert size <= audience * fraction + 1e-6 < size + 1 + 1e-6
