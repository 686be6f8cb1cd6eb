"""Simulated A/B tests through the pure decide: without a real effect at most 1 − confidence of
tests name a winner; a real 2-point lift is found at the calculator's sample size."""

from __future__ import annotations

import pytest

from bench import ab_simulation as sim

CONFIDENCE = 0.95


@pytest.mark.parametrize("variants", [2, 3, 5])
def test_a_a_experiments_name_at_most_five_percent_winners(variants):
    result = sim.aa(variants, experiments=2000, confidence=CONFIDENCE)
    # one-sided binomial bound: this many winners would be a 1-in-1000 fluke at exactly 5%
    surprise = sim.binomial_tail_above(result.winners, result.experiments, 1 - CONFIDENCE)
    assert surprise > 0.001, f"{result.winners} of {result.experiments} A/A tests named a winner"
    assert result.winners > 0  # the test can fire: a decide that never declares would pass


def test_a_true_two_point_lift_is_found_at_the_calculators_sample_size():
    result = sim.power(baseline=0.05, lift=0.02, experiments=2000, confidence=CONFIDENCE)
    assert result.per_variant > 1000
    assert result.share >= 0.75, f"found in {result.share:.1%} of experiments"


def test_the_binomial_helpers_agree_with_scipy():
    from scipy import stats as scipy_stats

    assert sim.binomial_tail_above(120, 2000, 0.05) == pytest.approx(
        scipy_stats.binom.sf(119, 2000, 0.05), abs=1e-9
    )
    assert sim.binomial_upper(80, 2000) == pytest.approx(
        scipy_stats.beta.ppf(0.99, 81, 1920), abs=1e-9
    )
