"""Migration 0003: every trigger made before it gets its journey (entry, delay, cancel_on goal,
max_per_contact_days, on/off), on SQLite and PostgreSQL; then the trigger fires on the engine."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from bench.seed import scratch_database
from herald.core import clock
from herald.core.db import Database
from herald.core.migrate import upgrade
from herald.intake import shop
from herald.journeys.models import Journey, JourneyEntry

NOW = "2026-11-20 10:00:00+00:00"


@pytest.fixture(params=["sqlite", "postgresql"])
def fresh_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database of its own (the shared test database is at the head already)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'old.db'}"
        return
    with scratch_database(prefix="herald_m") as url:
        yield url


def _old_trigger(conn: Any, trigger_id: int, **values: Any) -> None:
    """A trigger and its campaign as the code before 0003 stored them."""
    conn.execute(
        text(
            "INSERT INTO campaigns (id, name, channel, status, schedule, created_at, updated_at) "
            "VALUES (:id, :name, 'email', :status, :schedule, :now, :now)"
        ),
        {
            "id": trigger_id,
            "name": f"Trigger: {values['name']}",
            "status": "sending" if values["active"] else "paused",
            "schedule": json.dumps({"type": "trigger", "trigger_id": trigger_id}),
            "now": NOW,
        },
    )
    conn.execute(
        text(
            "INSERT INTO variants (campaign_id, name, position, content) "
            "VALUES (:id, 'A', 0, :content)"
        ),
        {"id": trigger_id, "content": json.dumps({"subject": "Your cart", "html": "<p>x</p>"})},
    )
    conn.execute(
        text(
            "INSERT INTO triggers (id, name, event, filter, delay_minutes, cancel_on, "
            "max_per_contact_days, transactional, active, campaign_id, created_at) VALUES "
            "(:id, :name, :event, :filter, :delay, :cancel_on, :most, false, :active, :id, :now)"
        ),
        {
            "id": trigger_id,
            "name": values["name"],
            "event": values["event"],
            "filter": json.dumps(values.get("filter")),
            "delay": values["delay"],
            "cancel_on": values.get("cancel_on"),
            "most": values.get("most"),
            "active": values["active"],
            "now": NOW,
        },
    )


def test_existing_triggers_become_journeys(fresh_url: str, tmp_path: Path) -> None:
    upgrade(fresh_url, "0002_journeys")
    engine = create_engine(fresh_url)
    with engine.begin() as conn:
        _old_trigger(
            conn,
            1,
            name="Cart reminder",
            event="cart.abandoned",
            delay=60,
            cancel_on="order.placed",
            most=3,
            active=True,
            filter={"field": "tier", "op": "eq", "value": "gold"},
        )
        _old_trigger(conn, 2, name="Welcome", event="customer.created", delay=0, active=False)
    engine.dispose()
    upgrade(fresh_url)

    db = Database(fresh_url)
    try:
        with db.session() as session:
            journeys = {j.trigger_id: j for j in session.scalars(select(Journey))}
            cart, welcome = journeys[1], journeys[2]
            assert cart.status == "active" and welcome.status == "paused"
            assert cart.step_campaigns == {"send": 1} and welcome.step_campaigns == {"send": 2}
            assert cart.definition["entry"] == {
                "event": "cart.abandoned",
                "filter": {"field": "tier", "op": "eq", "value": "gold"},
            }
            assert [s["id"] for s in cart.definition["steps"]] == ["wait", "send"]
            assert cart.definition["steps"][0]["minutes"] == 60
            assert cart.definition["steps"][1]["variants"] == [
                {"name": "A", "subject": "Your cart", "html": "<p>x</p>"}
            ]
            assert cart.definition["exit_on"] == ["order.placed"]
            assert cart.definition["re_entry"] == {"after_days": 3, "count_exits": False}
            assert [s["id"] for s in welcome.definition["steps"]] == ["send"]
            assert welcome.definition["re_entry"] == "after_exit"

        # the migrated trigger fires on the engine: a gold member's cart enters its journey
        member = {"external_id": "g1", "email": "g1@example.com", "tier": "gold"}
        basket = {"id": "c1", "customer_external_id": "g1", "total": "9", "items": []}
        with db.session() as session:
            for body in (
                {"type": "customer.created", "data": {"customer": member}},
                {"type": "cart.abandoned", "data": {"cart": basket}},
            ):
                shop.receive(session, *shop.check(body))
        with db.session() as session:
            entry = session.scalars(select(JourneyEntry)).one()
            assert entry.journey_id == cart.id and entry.step == "wait"
            assert entry.wake_at is not None and entry.wake_at > clock.now()
    finally:
        db.dispose()
