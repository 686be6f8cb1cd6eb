"""Simulated A/B tests through the pure ``decide``: how often a test without a real effect names
a winner (A/A), and how often a real lift is found at the calculator's sample size (power).

Counts are drawn with NumPy in one vectorised call per configuration; each experiment then goes
through :func:`herald.abtest.decision.decide` exactly as a real run's counts would.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from herald.abtest import stats
from herald.abtest.decision import Counts, decide
from herald.abtest.distributions import log_choose

NAMES = "ABCDEFGH"


@dataclass(frozen=True)
class Result:
    """How many of ``experiments`` declared a winner, and the one-sided binomial figures."""

    variants: int
    experiments: int
    per_variant: int
    rate: float
    winners: int
    upper_99: float  # one-sided 99% Clopper-Pearson upper bound of the winner rate

    @property
    def share(self) -> float:
        """The share of experiments that named a winner."""
        return self.winners / self.experiments


def binomial_upper(successes: int, trials: int, confidence: float = 0.99) -> float:
    """One-sided Clopper-Pearson upper bound of a binomial rate (bisection on the exact tail)."""
    if successes >= trials:
        return 1.0

    def tail(p: float) -> float:  # P(X ≤ successes | p)
        return sum(
            math.exp(log_choose(trials, k) + k * math.log(p) + (trials - k) * math.log1p(-p))
            for k in range(successes + 1)
        )

    low, high = successes / trials, 1.0
    for _ in range(60):
        mid = (low + high) / 2
        if tail(mid) > 1 - confidence:
            low = mid
        else:
            high = mid
    return high


def binomial_tail_above(successes: int, trials: int, p: float) -> float:
    """P(X ≥ successes) for X ~ Binomial(trials, p): how surprising this many winners would be
    if the true rate were p."""
    return sum(
        math.exp(log_choose(trials, k) + k * math.log(p) + (trials - k) * math.log1p(-p))
        for k in range(successes, trials + 1)
    )


def _run(
    rates: list[float], per_variant: int, experiments: int, confidence: float, seed: int
) -> tuple[int, int]:
    """(experiments naming any winner, experiments naming the last variant) over the draws."""
    rng = np.random.default_rng(seed)
    draws = rng.binomial(per_variant, rates, size=(experiments, len(rates)))
    names = NAMES[: len(rates)]
    any_winner = last_wins = 0
    for row in draws:
        counts = {name: Counts(per_variant, int(x)) for name, x in zip(names, row, strict=True)}
        decision = decide(counts, "click_rate", confidence, "A")
        if decision.reason == "significant":
            any_winner += 1
        if decision.reason == "significant" and decision.winner == names[-1]:
            last_wins += 1
    return any_winner, last_wins


def aa(
    variants: int,
    experiments: int = 2000,
    per_variant: int = 1000,
    rate: float = 0.05,
    confidence: float = 0.95,
    seed: int = 11,
) -> Result:
    """A/A: every variant has the same true rate; count the experiments that declare a winner."""
    winners, _ = _run([rate] * variants, per_variant, experiments, confidence, seed + variants)
    return Result(
        variants, experiments, per_variant, rate, winners, binomial_upper(winners, experiments)
    )


def power(
    baseline: float = 0.05,
    lift: float = 0.02,
    experiments: int = 2000,
    confidence: float = 0.95,
    seed: int = 12,
) -> Result:
    """A/B: B is truly ``lift`` better; at the calculator's sample size, count how often B is
    declared the winner."""
    per_variant = stats.sample_size(baseline, lift, confidence)
    _, found = _run([baseline, baseline + lift], per_variant, experiments, confidence, seed)
    return Result(2, experiments, per_variant, baseline, found, binomial_upper(found, experiments))
