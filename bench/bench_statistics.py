"""A/B decision quality: A/A false-winner rates for 2, 3 and 5 variants and the power at the
calculator's sample size, written to STATISTICS.md (``make bench`` or ``python -m bench
statistics``). The same simulation runs as a test in ``make test``
(tests/abtest/test_simulation.py)."""

from __future__ import annotations

import time

from bench import ab_simulation as sim
from bench.report import ROOT, machine

STATISTICS = ROOT / "STATISTICS.md"
CONFIDENCE = 0.95
HEADER = (
    "| variants | experiments | delivered per variant | true rate | winners | share "
    "| upper 99% | P(≥ this many \\| 5%) |"
)


def main() -> None:
    started = time.perf_counter()
    rows = []
    for variants in (2, 3, 5):
        result = sim.aa(variants, confidence=CONFIDENCE)
        surprise = sim.binomial_tail_above(result.winners, result.experiments, 1 - CONFIDENCE)
        rows.append(
            f"| {variants} | {result.experiments:,} | {result.per_variant:,} | "
            f"{result.rate:.0%} | {result.winners} | {result.share:.2%} | "
            f"{result.upper_99:.2%} | {surprise:.3g} |"
        )
        print(f"A/A {variants} variants: {result.winners}/{result.experiments} winners", flush=True)
    found = sim.power(confidence=CONFIDENCE)
    print(f"power: {found.winners}/{found.experiments} at {found.per_variant}", flush=True)
    seconds = time.perf_counter() - started
    STATISTICS.write_text(
        f"""# A/B statistics: how often Herald names a winner

Written by `make bench` (bench/bench_statistics.py) on {machine()}, in {seconds:.1f} s; the same
simulation is a test in `make test` (tests/abtest/test_simulation.py). Every experiment goes
through the pure `herald.abtest.decision.decide` at confidence {CONFIDENCE}, with fallback A,
a minimum sample of 100 delivered per variant and the sample-ratio check on.

## A/A: no real difference, how many tests declare a winner

Each variant's clicks are drawn from the same binomial rate. The contract allows at most
1 − confidence = 5%. "Upper 99%" is the one-sided Clopper-Pearson bound of the true rate; "P(≥
this many | 5%)" is how surprising the count would be if the true rate were exactly 5% (the test
fails below 0.001).

{HEADER}
|---|---|---|---|---|---|---|---|
{chr(10).join(rows)}

## Power: a true 2-point lift at the calculator's sample size

A at 5%, B at 7%; the calculator (`herald.abtest.stats.sample_size`, Fleiss with continuity
correction, 80% power, two-sided) asks for **{found.per_variant:,}** delivered per variant. B was
declared the winner in **{found.winners:,} of {found.experiments:,}** experiments
(**{found.share:.1%}**; the test requires at least 75%).
"""
    )
    print(f"wrote {STATISTICS.name}", flush=True)
