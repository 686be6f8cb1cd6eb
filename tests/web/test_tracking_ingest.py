"""Recording opens and clicks in one statement (herald.campaigns.track_ingest): the SQL decision
on the machine window agrees with its plain-Python twin, a missing delivery records nothing,
and a pooled connection that PostgreSQL closed costs no event."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, text, update

from herald.audiences.models import Event
from herald.campaigns.machine import is_machine_event
from herald.campaigns.models import Delivery
from herald.campaigns.track_ingest import record_tracking_event
from herald.core import clock
from tests.web.test_tracking import HUMAN, events, sent  # noqa: F401 - the fixture

AGES = [
    None,
    timedelta(seconds=0.5),
    timedelta(seconds=1.9),
    timedelta(seconds=3),
    timedelta(hours=5),
]
WINDOWS = [timedelta(0), timedelta(seconds=2)]


@pytest.mark.parametrize("window", WINDOWS, ids=["window-off", "window-2s"])
def test_the_machine_window_decided_in_sql_matches_the_python_rule(db, sent, window):  # noqa: F811
    delivery_id = sent["delivery"].id
    now = clock.now()
    expected, recorded = [], []
    for age in AGES:
        sent_at = None if age is None else now - age
        with db.session() as session:
            session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(sent_at=sent_at)
            )
        with db.single_statements.begin() as connection:
            assert record_tracking_event(
                connection,
                "email.opened",
                delivery_id,
                {"user_agent": HUMAN},
                machine_agent=False,
                window=window,
                now=now,
            )
        expected.append(is_machine_event(HUMAN, sent_at, now, window))
    recorded = [e.machine for e in events(db, "email.opened")]
    assert recorded == expected
    assert expected != [expected[0]] * len(expected) or window == timedelta(0)


def test_a_machine_agent_is_a_machine_event_whatever_the_age(db, sent):  # noqa: F811
    clock.shift(timedelta(hours=1))
    now = clock.now()
    with db.single_statements.begin() as connection:
        record_tracking_event(
            connection,
            "email.clicked",
            sent["delivery"].id,
            {"url": "https://x.example"},
            machine_agent=True,
            window=timedelta(seconds=2),
            now=now,
        )
    [event] = events(db, "email.clicked")
    assert event.machine is True and event.data == {"url": "https://x.example"}
    assert event.occurred_at == now


def test_an_unknown_delivery_records_nothing(db, sent):  # noqa: F811
    with db.single_statements.begin() as connection:
        assert not record_tracking_event(
            connection,
            "email.opened",
            sent["delivery"].id + 1000,
            {},
            machine_agent=False,
            window=timedelta(seconds=2),
            now=clock.now(),
        )
    with db.session() as session:
        assert session.scalar(select(Event.id)) is None


@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
def test_a_connection_postgresql_closed_is_replaced_and_the_open_still_recorded(
    client,
    db,
    sent,  # noqa: F811
):
    # a privacy proxy's fetch takes the one-statement path on its own autocommit engine (a
    # person's open is recorded with its journey hand-off in one transaction on the main one)
    proxy = {"User-Agent": "Mozilla/5.0"}
    clock.shift(timedelta(minutes=10))
    assert client.get(sent["pixel"], headers=proxy).status_code == 200
    with db.engine.connect() as conn:
        killed = conn.execute(
            text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            )
        ).scalar()
    assert killed >= 1  # the tracking engine's pooled connection among them
    assert client.get(sent["pixel"], headers=proxy).status_code == 200
    assert [e.machine for e in events(db, "email.opened")] == [True, True]


@pytest.mark.parametrize("window", WINDOWS, ids=["window-off", "window-2s"])
@pytest.mark.parametrize("agent", [False, True], ids=["person", "scanner"])
def test_a_batch_records_what_one_by_one_records(db, sent, window, agent):  # noqa: F811
    """The tracking journal's batch insert (one unnest statement on PostgreSQL) decides the
    machine window, the moment and the data exactly as the one-event statement does."""
    from herald.campaigns.track_ingest import Tracked, record_many

    delivery_id = sent["delivery"].id
    now = clock.now()
    for age in AGES:
        sent_at = None if age is None else now - age
        with db.session() as session:
            session.execute(
                update(Delivery).where(Delivery.id == delivery_id).values(sent_at=sent_at)
            )
        data = {"user_agent": HUMAN, "age": str(age)}
        with db.engine.begin() as connection:
            record_tracking_event(
                connection,
                "email.opened",
                delivery_id,
                data,
                machine_agent=agent,
                window=window,
                now=now,
            )
            record_many(
                connection,
                [
                    Tracked("email.clicked", delivery_id, now, agent, data),
                    Tracked("email.clicked", delivery_id + 1000, now, agent, data),  # unknown
                ],
                window,
            )
    one = [(e.machine, e.occurred_at, e.data, e.run_id) for e in events(db, "email.opened")]
    many = [(e.machine, e.occurred_at, e.data, e.run_id) for e in events(db, "email.clicked")]
    assert many == one and len(one) == len(AGES)
