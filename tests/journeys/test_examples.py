"""The builder's starting points are journeys the service accepts as they are (graph, templates,
coupons), and each one's entry is the kind its name promises."""

from __future__ import annotations

from zoneinfo import ZoneInfo

import pytest

from herald.journeys import examples, service

ENTRIES = {
    "welcome": {"event": "customer.created"},
    "birthday": {"date_field": "birthday", "offset_days": -3, "time": "10:00"},
    "points_expiry": {"date_field": "points_expire_at", "offset_days": -7, "time": "10:00"},
    "referral": {"event": "referral.converted"},
}


@pytest.mark.parametrize("key", [key for key, _ in examples.choices()])
def test_every_starting_point_saves_as_a_draft(key, db):  # type: ignore[no-untyped-def]
    with db.session() as session:
        journey = service.create(session, examples.example(key), ZoneInfo("UTC"))
        session.commit()
        assert journey.status == "draft"
        if key in ENTRIES:
            stored = {k: v for k, v in journey.definition["entry"].items() if v is not None}
            assert stored == ENTRIES[key]


def test_an_unknown_starting_point_is_the_welcome_series_and_copies_are_independent() -> None:
    first = examples.example("nonsense")
    assert first["name"] == "Welcome series"
    first["steps"].clear()
    assert examples.example("welcome")["steps"]  # the stored example was not changed
