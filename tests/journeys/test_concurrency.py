"""Journeys under concurrency, on PostgreSQL over real connections: two identical entry events at
once make one entry, and a slow tick never holds up a shop webhook (entering a new member, or
ending the path of a member the tick is moving right then)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import func, select

from herald.audiences.models import Contact, Event
from herald.campaigns.models import Delivery
from herald.core import clock
from herald.intake import shop as intake
from herald.journeys import engine, service
from herald.journeys.models import JourneyEntry, JourneySignal
from tests.journeys.support import order, run, sign_up

pytestmark = pytest.mark.postgres

REMIND = [
    {
        "id": "remind",
        "type": "message",
        "channel": "email",
        "variants": [{"name": "A", "subject": "Your cart", "html": "<p>x</p>"}],
        "next": "exit",
    }
]


@pytest.fixture
def backend() -> str:
    return "postgresql"


def _in_thread(work: Callable[[], Any]) -> tuple[threading.Thread, list[Any]]:
    out: list[Any] = []

    def target() -> None:
        try:
            out.append(work())
        except BaseException as exc:  # surfaced by the test
            out.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    return thread, out


def _journey(db, settings, body: dict[str, Any]) -> int:  # type: ignore[no-untyped-def]
    with db.session() as session:
        journey = service.create(session, body, settings.timezone)
        service.activate(session, journey)
        session.commit()
        return journey.id


def test_two_identical_entry_events_at_once_make_one_entry(client, db, settings):  # type: ignore[no-untyped-def]
    sign_up(client, "ann")
    journey_id = _journey(
        db,
        settings,
        {
            "name": "Cart",
            "entry": {"event": "cart.abandoned"},
            "re_entry": "never",
            "steps": REMIND,
        },
    )

    def cart(n: int) -> dict[str, Any]:
        data = {"cart": {"id": f"c-{n}", "customer_external_id": "ann", "total": "9", "items": []}}
        return intake.check({"type": "cart.abandoned", "data": data})[1]

    first = db.sessions()
    second = db.sessions()
    try:
        # the first event is stored and the member entered, not yet committed ...
        intake.receive(first, "cart.abandoned", cart(1), zone=settings.timezone)

        def other() -> None:
            # ... when the same event comes in on a second connection: its INSERT meets the
            # first one's row in the unique index and waits for it to commit or roll back
            intake.receive(second, "cart.abandoned", cart(2), zone=settings.timezone)
            second.commit()

        thread, out = _in_thread(other)
        thread.join(1.0)
        assert thread.is_alive(), "the second entry should wait for the first to commit"
        first.commit()
        thread.join(30)
        assert not thread.is_alive() and out == [None], out
    finally:
        first.close()
        second.close()
    with db.session() as session:
        entries = session.scalar(select(func.count()).where(JourneyEntry.journey_id == journey_id))
        carts = session.scalar(select(func.count()).where(Event.type == "cart.abandoned"))
    assert carts == 2 and entries == 1  # both events stored, one entry


def test_a_slow_tick_never_holds_up_a_shop_webhook(  # type: ignore[no-untyped-def]
    client, db, settings, smtp_server
):
    recorder, _ = smtp_server
    journey_id = _journey(
        db,
        settings,
        {
            "name": "Welcome",
            "entry": {"event": "customer.created"},
            "exit_on": ["order.placed"],
            "steps": [
                {"id": "later", "type": "wait", "minutes": 10, "next": "hello"},
                {
                    "id": "hello",
                    "type": "message",
                    "channel": "email",
                    "variants": [{"name": "A", "subject": "Hello", "html": "<p>x</p>"}],
                    "next": "after",
                },
                {"id": "after", "type": "wait", "minutes": 60, "next": "exit"},
            ],
        },
    )
    sign_up(client, "bob")
    clock.shift(timedelta(minutes=11))
    tick = db.sessions()
    try:
        # the tick moves bob to the message step and writes his ledger row, and then takes its
        # time: its transaction (with its locks on the journey and bob's entry) stays open
        moved = engine.run_journey(tick, settings, journey_id, clock.now())
        assert moved == 2

        def webhooks() -> list[int]:
            return [
                sign_up(client, "cat").status_code,  # a new member enters the journey
                order(client, "bob").status_code,  # bob reaches the goal mid-tick
            ]

        thread, out = _in_thread(webhooks)
        thread.join(20)
        assert not thread.is_alive(), "a webhook waited for the tick"
        assert all(code < 300 for code in out[0]), out
        tick.commit()
    finally:
        tick.close()
    with db.session() as session:
        states = dict(
            session.execute(
                select(Contact.external_id, JourneyEntry.state).join(
                    Contact, Contact.id == JourneyEntry.contact_id
                )
            ).all()
        )
        # the tick had bob's entry locked: it moved him on, his message waits in the ledger
        assert states == {"bob": "active", "cat": "active"}
        assert session.scalar(select(func.count()).select_from(JourneySignal)) == 1
    run(db, settings)  # the next tick applies the goal before anything is sent
    with db.session() as session:
        states = dict(
            session.execute(
                select(Contact.external_id, JourneyEntry.state).join(
                    Contact, Contact.id == JourneyEntry.contact_id
                )
            ).all()
        )
        delivery = session.scalars(select(Delivery)).one()
        assert session.scalar(select(func.count()).select_from(JourneySignal)) == 0
    assert states == {"bob": "exited", "cat": "active"}
    assert delivery.status == "cancelled"
    assert delivery.reason == "cancelled: order.placed reached the journey's goal"
    assert recorder.messages == []
