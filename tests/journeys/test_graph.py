"""Saving a journey checks its graph: each problem is a 422 naming the step."""

from __future__ import annotations

import copy

import pytest

from herald.core.errors import ValidationError
from herald.journeys import graph
from tests.journeys.support import welcome


def _steps(body):  # type: ignore[no-untyped-def]
    return {s["id"]: s for s in body["steps"]}


def test_the_contract_example_is_valid():
    clean = graph.check(welcome())
    assert [s["id"] for s in clean["steps"]] == ["hello", "wait1", "opened?", "offer", "sms"]
    assert clean["re_entry"] == "never"


def _problem(body) -> ValidationError:  # type: ignore[no-untyped-def]
    with pytest.raises(ValidationError) as caught:
        graph.check(body)
    return caught.value


def test_an_unknown_step_id_is_named():
    body = welcome()
    _steps(body)["offer"]["next"] = "thanks"
    problem = _problem(body)
    assert "'offer'" in problem.message and "'thanks'" in problem.message
    assert "steps.offer" in problem.fields


def test_a_step_no_path_reaches_is_named():
    body = welcome()
    body["steps"].append({"id": "lonely", "type": "wait", "minutes": 5, "next": "exit"})
    problem = _problem(body)
    assert problem.message == "steps.lonely: step 'lonely': no path reaches it"


def test_a_cycle_without_a_wait_is_named_but_one_through_a_wait_is_fine():
    body = welcome()
    _steps(body)["offer"]["next"] = "opened?"
    problem = _problem(body)
    assert "a cycle without a wait" in problem.message
    assert set(problem.fields) <= {"steps.offer", "steps.opened?"}
    looped = welcome()
    _steps(looped)["offer"]["next"] = "wait1"  # back through the two-day wait
    graph.check(looped)


def test_a_branch_on_a_step_not_earlier_on_every_path_is_named():
    body = welcome()
    # the SMS path then branches on 'offer', which members on the SMS path never passed
    steps = _steps(body)
    steps["sms"]["next"] = "again?"
    body["steps"].append(
        {
            "id": "again?",
            "type": "branch",
            "condition": {"event": "email.clicked", "step": "offer"},
            "then": "exit",
            "else": "exit",
        }
    )
    problem = _problem(body)
    assert "step 'again?'" in problem.message and "'offer'" in problem.message
    assert "not earlier on every path" in problem.message
    fine = copy.deepcopy(body)
    _steps(fine)["again?"]["condition"]["step"] = "hello"
    graph.check(fine)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"holdout": 1}, "holdout"),
        ({"re_entry": "sometimes"}, "re_entry"),
        ({"re_entry": {"after_days": 3, "count_exits": "no"}}, "re_entry"),
        ({"re_entry": {"after_days": 3, "colour": False}}, "re_entry"),
        ({"exit_on": ["order.cancelled"]}, "exit_on"),
        ({"entry": {"event": "signup"}}, "entry.event"),
        ({"entry": {"date_field": "birthday", "time": "25:00"}}, "entry.time"),
        ({"entry": {"date_field": "anniversary"}}, "entry.date_field"),
        ({"colour": "red"}, "colour"),
    ],
)
def test_bad_fields_are_named(change, field):  # type: ignore[no-untyped-def]
    assert field in _problem(welcome(**change)).fields


def test_re_entry_after_days_may_leave_goal_exits_uncounted():
    assert graph.check(welcome(re_entry={"after_days": 3}))["re_entry"] == {"after_days": 3}
    kept = graph.check(welcome(re_entry={"after_days": 3, "count_exits": False}))
    assert kept["re_entry"] == {"after_days": 3, "count_exits": False}
    plain = graph.check(welcome(re_entry={"after_days": 3, "count_exits": True}))
    assert plain["re_entry"] == {"after_days": 3}


def test_step_fields_name_the_step():
    body = welcome()
    _steps(body)["wait1"]["minutes"] = -5
    assert "steps.wait1.minutes" in _problem(body).fields
    body = welcome()
    body["steps"].append(dict(body["steps"][0]))
    assert "two steps have this id" in _problem(body).message
