"""Triggers run on the journey engine: no per-UTC-day limit, one firing waiting per member at a
time, ``max_per_contact_days`` counting only firings that were not cancelled, edits that keep
waiting members in place, and the trigger's journey kept out of the journey lists."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from herald.campaigns.models import Delivery, Trigger
from herald.core import clock
from herald.journeys import triggers
from herald.journeys.models import Journey, JourneyEntry
from tests.journeys.support import cart, order, run, sign_up


def _reminder(**extra: Any) -> dict[str, Any]:
    return {
        "name": "Cart reminder",
        "event": "cart.abandoned",
        "delay_minutes": 60,
        "cancel_on": "order.placed",
        "channel": "email",
        "variants": [{"name": "A", "subject": "Your cart", "html": "<p>{{ event.total }}</p>"}],
        **extra,
    }


def _early_in_a_utc_day() -> None:
    now = clock.now().astimezone(UTC)
    tomorrow = datetime.combine(now.date() + timedelta(days=1), time(1, 0), UTC)
    clock.shift(tomorrow - now)


def test_a_member_gets_a_reminder_for_each_cart_the_same_utc_day(  # type: ignore[no-untyped-def]
    client, auth, db, settings, smtp_server
):
    recorder, _ = smtp_server
    _early_in_a_utc_day()
    day = clock.now().astimezone(UTC).date()
    sign_up(client, "ann")
    assert client.post("/api/v1/triggers", json=_reminder(), headers=auth).status_code == 201
    cart(client, "ann", 1)
    cart(client, "ann", 2)  # while the first reminder waits: no second firing
    clock.shift(timedelta(minutes=61))
    run(db, settings)
    assert len(recorder.messages) == 1
    cart(client, "ann", 3)  # later the same UTC day, after the first went out
    clock.shift(timedelta(minutes=61))
    run(db, settings)
    assert clock.now().astimezone(UTC).date() == day
    assert len(recorder.messages) == 2


def test_cancelled_firings_do_not_count_against_max_per_contact_days(  # type: ignore[no-untyped-def]
    client, auth, db, settings, smtp_server
):
    recorder, _ = smtp_server
    sign_up(client, "bo")
    body = _reminder(max_per_contact_days=3)
    trigger = client.post("/api/v1/triggers", json=body, headers=auth).json
    cart(client, "bo", 1)
    order(client, "bo", 1)  # cancels the first reminder
    cart(client, "bo", 2)
    clock.shift(timedelta(minutes=61))
    run(db, settings)
    assert len(recorder.messages) == 1
    cart(client, "bo", 3)  # within 3 days of the one that went out: nothing
    clock.shift(timedelta(minutes=61))
    run(db, settings)
    assert len(recorder.messages) == 1
    with db.session() as session:
        statuses = sorted(d.status for d in session.scalars(select(Delivery)))
    assert statuses == ["cancelled", "sent"]
    stats = client.get(f"/api/v1/triggers/{trigger['id']}/stats", headers=auth).json
    assert stats["total"]["recipients"] == 2 and stats["total"]["sent"] == 1


def test_an_edited_delay_keeps_waiting_members_and_the_journey_follows(  # type: ignore[no-untyped-def]
    client, auth, db, settings, smtp_server
):
    recorder, _ = smtp_server
    sign_up(client, "cy")
    trigger = client.post("/api/v1/triggers", json=_reminder(), headers=auth).json
    cart(client, "cy")
    with db.session() as session:
        edited = session.get(Trigger, trigger["id"])
        triggers.update_trigger(session, edited, _reminder(delay_minutes=0, name="Nudge"))
        journey = session.scalar(select(Journey).where(Journey.trigger_id == trigger["id"]))
        assert [s["id"] for s in journey.definition["steps"]] == ["send"]
        assert journey.definition["exit_on"] == ["order.placed"]
    run(db, settings)  # cy waited on the hour; with no delay she gets it now
    assert len(recorder.messages) == 1


def test_a_triggers_journey_is_not_a_journey_to_the_outside(client, auth, db):  # type: ignore[no-untyped-def]
    trigger = client.post("/api/v1/triggers", json=_reminder(), headers=auth).json
    with db.session() as session:
        journey_id = session.scalar(select(Journey.id).where(Journey.trigger_id == trigger["id"]))
        assert journey_id is not None
        assert session.scalar(select(JourneyEntry.id)) is None
    assert client.get("/api/v1/journeys", headers=auth).json["items"] == []
    assert client.get(f"/api/v1/journeys/{journey_id}", headers=auth).status_code == 404
    assert client.get(f"/api/v1/journeys/{journey_id}/stats", headers=auth).status_code == 404
    assert client.post(f"/api/v1/journeys/{journey_id}/pause", headers=auth).status_code == 404
