"""The pure A/B decision and its sentence."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from herald.abtest import stats
from herald.abtest.decision import Counts, decide
from herald.abtest.sentence import decision_sentence


def test_a_clear_winner_beats_the_fallback_with_its_lift_and_interval():
    decision = decide({"A": Counts(5000, 250), "B": Counts(5000, 330)}, "click_rate", 0.95, "A")
    assert (decision.winner, decision.send, decision.reason) == ("B", "B", "significant")
    assert decision.lift["B"]["estimate"] == pytest.approx(0.016)
    low, high = decision.lift["B"]["ci"]
    assert 0 < low < 0.016 < high
    assert decision.p_values["A"] == pytest.approx(stats.yates_p(330, 5000, 250, 5000))
    assert decision.probability_to_beat["B"] > 0.99
    assert decision.srm_p > 0.001


def test_three_of_ten_against_none_is_too_few_and_the_fallback_goes_out():
    decision = decide({"A": Counts(10, 0), "B": Counts(10, 3)}, "click_rate", 0.95, "A")
    assert (decision.winner, decision.send, decision.reason) == ("A", "A", "too_few")
    assert decision.needed_per_variant is not None and decision.needed_per_variant >= 100


def test_three_of_ten_against_none_is_not_significant_even_without_a_minimum():
    decision = decide(
        {"A": Counts(10, 0), "B": Counts(10, 3)}, "click_rate", 0.95, "A", min_sample=0
    )
    assert decision.reason == "fallback" and decision.winner == "A"
    assert decision.p_values["A"] == pytest.approx(0.2105263157894737)


def test_a_sample_ratio_mismatch_blocks_the_decision():
    decision = decide({"A": Counts(5000, 250), "B": Counts(4300, 400)}, "click_rate", 0.95, "A")
    assert decision.reason == "srm" and decision.winner is None and decision.send == "A"
    assert decision.srm_p < 0.001


def test_the_planned_split_is_what_the_delivered_counts_are_checked_against():
    counts = {"A": Counts(6000, 300), "B": Counts(3000, 150)}
    assert decide(counts, "click_rate", 0.95, "A").reason == "srm"
    assert decide(counts, "click_rate", 0.95, "A", planned={"A": 2, "B": 1}).reason != "srm"


def test_the_leader_must_beat_every_other_variant_after_holm():
    close = {"A": Counts(4000, 200), "B": Counts(4000, 290), "C": Counts(4000, 280)}
    decision = decide(close, "click_rate", 0.95, "A")
    assert decision.leader == "B" and decision.reason == "fallback" and decision.winner == "A"
    assert set(decision.p_values) == {"A", "C"}
    assert decision.p_values["C"] > 0.05


def test_revenue_uses_welch_on_revenue_per_recipient():
    a = Counts(2000, revenue=2000 * 3.0, revenue_squares=2000 * (3.0**2 + 40.0))
    b = Counts(2000, revenue=2000 * 5.0, revenue_squares=2000 * (5.0**2 + 40.0))
    decision = decide({"A": a, "B": b}, "revenue", 0.95, "A")
    assert decision.winner == "B" and decision.reason == "significant"
    assert decision.lift["B"]["estimate"] == pytest.approx(2.0)


@st.composite
def experiments(draw):
    k = draw(st.integers(2, 5))
    counts = {}
    for name in "ABCDE"[:k]:
        n = draw(st.one_of(st.just(0), st.integers(0, 3000)))
        x = draw(st.one_of(st.just(0), st.just(n), st.integers(0, n)))
        counts[name] = Counts(n, x)
    return counts, draw(st.sampled_from(list(counts))), draw(st.sampled_from([0.9, 0.95, 0.99]))


@given(experiments(), st.sampled_from(["open_rate", "click_rate", "conversion_rate"]))
@settings(deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_every_decision_is_well_formed_and_serialisable(experiment, metric):
    counts, fallback, confidence = experiment
    decision = decide(counts, metric, confidence, fallback)
    assert decision.send in counts
    assert decision.reason in ("significant", "fallback", "too_few", "srm")
    if decision.reason != "significant":
        assert decision.send == fallback
    if decision.reason == "significant":
        assert all(p < 1 - confidence for p in decision.p_values.values())
    for name, lift in decision.lift.items():
        low, high = lift["ci"]
        assert -1 <= low <= lift["estimate"] <= high <= 1, name
    for value in decision.probability_to_beat.values():
        assert 0 <= value <= 1
    json.dumps(decision.to_dict(), allow_nan=False)
    assert decision_sentence(decision.to_dict(), 1000)


def test_the_sentence_of_a_winner_reads_like_the_issue():
    decision = decide({"A": Counts(20000, 1000), "B": Counts(20000, 1240)}, "click_rate", 0.95, "A")
    sentence = decision_sentence(decision.to_dict(), 80000)
    low, high = decision.lift["B"]["ci"]
    assert sentence == (
        f"B beat A on click rate by 1.2 points, 95% CI {low * 100:.1f} to {high * 100:.1f}; "
        f"p < 0.001 after Holm; B went to the remaining 80,000."
    )


def test_the_sentence_of_too_few_names_the_size_needed():
    decision = decide({"A": Counts(40, 2), "B": Counts(40, 5)}, "click_rate", 0.95, "A")
    needed = decision.needed_per_variant
    assert needed == stats.sample_size(0.05, 0.01, 0.95)
    assert decision_sentence(decision.to_dict(), 500) == (
        f"Too few deliveries to decide (needs {needed:,} per variant for a 1-point lift); "
        "A, the fallback, went to the remaining 500."
    )


def test_the_sentence_of_no_clear_winner_says_so_and_names_the_fallback():
    decision = decide({"A": Counts(1000, 50), "B": Counts(1000, 58)}, "click_rate", 0.95, "A")
    sentence = decision_sentence(decision.to_dict(), 9000)
    assert sentence.startswith("No clear winner at 95%: B led A on click rate by 0.8 points")
    assert sentence.endswith("A, the fallback, went to the remaining 9,000.")


def test_the_sentence_of_a_sample_ratio_mismatch_explains_why():
    decision = decide({"A": Counts(5000, 250), "B": Counts(4300, 400)}, "click_rate", 0.95, "A")
    assert "off the planned split" in decision_sentence(decision.to_dict(), 10)
    assert decision_sentence(None) == "The A/B test has not been decided yet."
