"""A/B statistics against SciPy and statsmodels, the reference implementations, to 1e-9."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import integrate
from scipy import stats as scipy_stats
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.proportion import confint_proportions_2indep, proportion_confint

from herald.abtest import distributions, intervals, stats
from herald.abtest.assign import test_size as size_of_test

TOL = 1e-9
# the test machines are shared: generation speed says nothing about the code under test
SLOW_MACHINE = [HealthCheck.too_slow]
sizes = st.integers(min_value=0, max_value=5_000)
confidences = st.sampled_from([0.8, 0.9, 0.95, 0.99])


@st.composite
def two_groups(draw, low=0, high=5_000):
    n1 = draw(st.integers(low, high))
    n2 = draw(st.integers(low, high))
    return draw(st.integers(0, n1)), n1, draw(st.integers(0, n2)), n2


def edge_groups():
    """Zeros, all successes, an empty group: the corners hypothesis must always try."""
    return st.one_of(
        two_groups(),
        two_groups(0, 12),
        st.builds(lambda n1, n2: (0, n1, 0, n2), sizes, sizes),
        st.builds(lambda n1, n2: (n1, n1, n2, n2), sizes, sizes),
        st.builds(lambda n1, n2, x: (min(x, n1), n1, 0, n2), sizes, sizes, sizes),
    )


@given(edge_groups())
@settings(max_examples=400, deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_continuity_corrected_test_matches_scipys_chi_square(groups):
    x1, n1, x2, n2 = groups
    table = np.array([[x1, n1 - x1], [x2, n2 - x2]])
    if n1 == 0 or n2 == 0 or 0 in table.sum(axis=0):
        assert stats.yates_p(x1, n1, x2, n2) == 1.0  # SciPy refuses a table with a zero margin
        return
    expected = scipy_stats.chi2_contingency(table, correction=True).pvalue
    assert stats.yates_p(x1, n1, x2, n2) == pytest.approx(expected, abs=TOL)


@given(edge_groups())
@settings(max_examples=400, deadline=None, suppress_health_check=SLOW_MACHINE)
def test_fishers_exact_test_matches_scipy(groups):
    x1, n1, x2, n2 = groups
    expected = scipy_stats.fisher_exact([[x1, n1 - x1], [x2, n2 - x2]]).pvalue
    assert stats.fisher_p(x1, n1, x2, n2) == pytest.approx(min(1.0, expected), abs=TOL)


def test_three_of_ten_against_none_of_ten_is_not_significant():
    # the case that used to be sent to the rest of the audience: one-sided Fisher 0.105
    assert stats.rate_p(3, 10, 0, 10) == pytest.approx(0.2105263157894737, abs=TOL)
    assert stats.rate_p(3, 10, 0, 10) > 0.05


def test_small_expected_cells_use_fisher_and_large_ones_the_z_test():
    assert min(stats.expected_cells(1, 40, 6, 40)) < 5
    assert stats.rate_p(1, 40, 6, 40) == stats.fisher_p(1, 40, 6, 40)
    assert stats.rate_p(120, 1000, 80, 1000) == stats.yates_p(120, 1000, 80, 1000)


def _values(draw_list):
    return st.lists(st.floats(0, 500, allow_nan=False), min_size=2, max_size=60)


@given(_values(None), _values(None))
@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_MACHINE)
def test_welch_matches_scipys_t_test(a, b):
    sa = stats.Sample(len(a), math.fsum(a), math.fsum(x * x for x in a))
    sb = stats.Sample(len(b), math.fsum(b), math.fsum(x * x for x in b))
    assume(sa.variance + sb.variance > 1e-3)
    expected = scipy_stats.ttest_ind(a, b, equal_var=False).pvalue
    assert stats.welch_p(sa, sb) == pytest.approx(expected, abs=1e-8)


@given(
    st.floats(-5, 5),
    st.floats(0.5, 5),
    st.integers(2, 5000),
    st.floats(-5, 5),
    st.floats(0.5, 5),
    st.integers(2, 5000),
)
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_welch_from_summaries_matches_scipy_to_1e_9(m1, s1, n1, m2, s2, n2):
    a = stats.Sample(n1, m1 * n1, (n1 - 1) * s1 * s1 + n1 * m1 * m1)
    b = stats.Sample(n2, m2 * n2, (n2 - 1) * s2 * s2 + n2 * m2 * m2)
    expected = scipy_stats.ttest_ind_from_stats(m1, s1, n1, m2, s2, n2, equal_var=False).pvalue
    assert stats.welch_p(a, b) == pytest.approx(expected, abs=TOL)


HOLM_CASES = [[0.01], [0.01, 0.04], [0.03, 0.01, 0.04], [0.5, 0.001, 0.02, 0.02, 0.9], [1.0, 0.0]]


@pytest.mark.parametrize("raw", HOLM_CASES)
def test_holm_matches_statsmodels(raw):
    _, expected, _, _ = multipletests(raw, method="holm")
    adjusted = stats.holm({f"v{i}": p for i, p in enumerate(raw)})
    assert [adjusted[f"v{i}"] for i in range(len(raw))] == pytest.approx(list(expected), abs=TOL)


def _holm_twin(raw):
    """Holm by its definition: the i-th smallest p, times (m − i), made monotone, capped at 1."""
    order = sorted(range(len(raw)), key=lambda i: raw[i])
    out = [0.0] * len(raw)
    for rank, i in enumerate(order):
        out[i] = min(1.0, max((len(raw) - r) * raw[order[r]] for r in range(rank + 1)))
    return out


@given(st.lists(st.floats(0, 1), min_size=1, max_size=8))
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_holm_matches_its_plain_definition(raw):
    adjusted = stats.holm({f"v{i}": p for i, p in enumerate(raw)})
    assert [adjusted[f"v{i}"] for i in range(len(raw))] == pytest.approx(_holm_twin(raw), abs=TOL)


@given(st.lists(st.integers(0, 50_000), min_size=2, max_size=6), st.data())
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_sample_ratio_check_matches_scipys_chi_square(delivered, data):
    assume(sum(delivered) > 0)
    planned = data.draw(
        st.lists(st.floats(0.5, 3), min_size=len(delivered), max_size=len(delivered))
    )
    expected_counts = [sum(delivered) * w / sum(planned) for w in planned]
    expected = scipy_stats.chisquare(delivered, expected_counts).pvalue
    assert stats.srm_p(delivered, planned) == pytest.approx(expected, abs=TOL)


def test_the_sample_ratio_check_reads_delivered_counts_not_the_equal_assignment():
    assert stats.srm_p([1000, 1000], [1, 1]) == 1.0
    assert stats.srm_p([1000, 850], [1, 1]) < 0.001


@given(st.floats(0, 400), st.integers(1, 12))
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_chi_square_tail_matches_scipy(x, dof):
    assert distributions.chi2_sf(x, dof) == pytest.approx(scipy_stats.chi2.sf(x, dof), abs=TOL)


@given(st.floats(-50, 50), st.floats(1, 1e6))
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_t_tail_matches_scipy(t, df):
    assert distributions.t_sf(t, df) == pytest.approx(scipy_stats.t.sf(t, df), abs=TOL)


@given(st.floats(0.51, 0.9999), st.floats(1, 1e5))
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_t_quantile_matches_scipy(q, df):
    assert distributions.t_quantile(q, df) == pytest.approx(scipy_stats.t.ppf(q, df), abs=1e-8)


@given(edge_groups(), confidences)
@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_MACHINE)
def test_wilson_intervals_match_statsmodels(groups, confidence):
    x, n, _, _ = groups
    if n == 0:
        assert intervals.wilson(x, n, confidence) == (0.0, 1.0)
        return
    low, high = proportion_confint(x, n, alpha=1 - confidence, method="wilson")
    ours = intervals.wilson(x, n, confidence)
    assert ours == pytest.approx((low, high), abs=TOL)
    assert 0.0 <= ours[0] <= x / n <= ours[1] <= 1.0


@given(edge_groups(), confidences)
@settings(max_examples=300, deadline=None, suppress_health_check=SLOW_MACHINE)
def test_newcombe_intervals_match_statsmodels(groups, confidence):
    x1, n1, x2, n2 = groups
    assume(n1 > 0 and n2 > 0)
    low, high = confint_proportions_2indep(
        x1, n1, x2, n2, method="newcomb", compare="diff", alpha=1 - confidence
    )
    ours = intervals.newcombe(x1, n1, x2, n2, confidence)
    assert ours == pytest.approx((low, high), abs=TOL)
    assert ours[0] <= x1 / n1 - x2 / n2 <= ours[1]


def test_welch_interval_matches_statsmodels():
    from statsmodels.stats.weightstats import CompareMeans, DescrStatsW

    rng = np.random.default_rng(7)
    a, b = rng.exponential(12, 300), rng.exponential(10, 280)
    expected = CompareMeans(DescrStatsW(a), DescrStatsW(b)).tconfint_diff(
        alpha=0.05, usevar="unequal"
    )
    ours = intervals.welch_interval(
        stats.Sample(300, a.sum(), (a * a).sum()), stats.Sample(280, b.sum(), (b * b).sum())
    )
    assert ours == pytest.approx(expected, abs=TOL)


def _beta_probability(x, n, xr, nr):
    mine, ref = scipy_stats.beta(1 + x, 1 + n - x), scipy_stats.beta(1 + xr, 1 + nr - xr)
    low = min(mine.ppf(1e-15), ref.ppf(1e-15))
    high = max(mine.isf(1e-15), ref.isf(1e-15))
    value, _ = integrate.quad(
        lambda p: mine.pdf(p) * ref.cdf(p), low, high, epsabs=1e-14, epsrel=1e-12, limit=500
    )
    return value


@given(st.one_of(two_groups(0, 600), two_groups(0, 12)))
@settings(max_examples=60, deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_probability_to_beat_matches_scipys_integral(groups):
    x, n, xr, nr = groups
    assert stats.probability_to_beat(x, n, xr, nr) == pytest.approx(
        _beta_probability(x, n, xr, nr), abs=TOL
    )


@given(two_groups(1, 3000))
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_probability_to_beat_is_symmetric(groups):
    x, n, xr, nr = groups
    assert stats.probability_to_beat(x, n, xr, nr) + stats.probability_to_beat(
        xr, nr, x, n
    ) == pytest.approx(1.0, abs=TOL)


def _fleiss(p1, p2, alpha, power):
    """The sample-size formula written with SciPy's quantiles (a twin of ours)."""
    za, zb = scipy_stats.norm.ppf(1 - alpha / 2), scipy_stats.norm.ppf(power)
    pm = (p1 + p2) / 2
    n = (za * math.sqrt(2 * pm * (1 - pm)) + zb * math.sqrt(p1 * (1 - p1) + p2 * (1 - p2))) ** 2
    n /= (p2 - p1) ** 2
    return math.ceil(n / 4 * (1 + math.sqrt(1 + 4 / (n * abs(p2 - p1)))) ** 2 - 1e-9)


@given(st.floats(0.005, 0.9), st.sampled_from([0.01, 0.02, 0.05]), confidences)
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_sample_size_calculator_matches_the_formula_on_scipys_quantiles(base, lift, conf):
    assert stats.sample_size(base, lift, conf) == _fleiss(base, base + lift, 1 - conf, 0.8)


def test_the_sample_size_needs_more_for_smaller_lifts():
    assert stats.sample_size(0.05, 0.01, 0.95) > stats.sample_size(0.05, 0.02, 0.95) > 0
    with pytest.raises(ValueError):
        stats.sample_size(0.05, 0.0, 0.95)


@given(st.integers(0, 10**7), st.floats(0.01, 1.0))
@settings(deadline=None, suppress_health_check=SLOW_MACHINE)
def test_the_test_group_is_the_fraction_rounded_down(audience, fraction):
    size = size_of_test(audience, fraction)
    assert 0 <= size <= audience
    assert size <= audience * fraction + 1e-6 < size + 1 + 1e-6
