"""Regression for fault scenario 7 (RELIABILITY.md): the database going away between handing a
chunk to the provider and recording it. The worker used to give the chunk up (the task raised),
its rows stayed ``sending`` and were handed off again after the lease as uncertain: 350 of 5,000
members got the message twice when PostgreSQL restarted mid-send. The chunk's outcomes are now
written through the outage (``Database.through_outage``)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from herald.campaigns import dispatch, service
from herald.campaigns.models import Campaign, Delivery
from herald.channels import registry
from herald.core import clock
from tests.campaigns.test_dispatch_hardening import SlowChannel
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members


class LostConnection:
    """Fails the first ``times`` ledger writes that close rows as ``sent``, as a server restart
    would: the statement's connection is gone."""

    def __init__(self, engine, times: int) -> None:  # type: ignore[no-untyped-def]
        self.left = times
        self.failed = 0
        event.listen(engine, "before_cursor_execute", self)

    def __call__(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        closing = (
            statement.lstrip()
            .upper()
            .startswith(("UPDATE DELIVERIES SET", "UPDATE DELIVERIES AS D SET"))
        )
        if self.left and closing and "sent_at" in statement:
            self.left -= 1
            self.failed += 1
            raise OperationalError(statement, parameters, ConnectionError("server closed"))


def test_a_chunk_handed_off_is_recorded_through_a_database_outage(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), flush_every="10")
    seed_members(db, 30)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), settings.timezone)
        service.send_now(session, campaign)
    (batch_id,) = dispatch.tick(db, settings)
    outage = LostConnection(db.engine, times=2)
    try:
        report = dispatch.send_batch(db, settings, batch_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", outage)
    assert outage.failed == 2
    assert report.sent == 30  # counted once, though two writes were tried twice
    with db.session() as session:
        statuses = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
    assert statuses == {"sent": 30}
    clock.shift(timedelta(minutes=5))  # past any lease: nothing is left to hand off again
    drain(db, settings)
    registry.close_all()
    assert len(recorder.messages) == 30 and set(recorder.by_recipient().values()) == {1}
    with db.session() as session:
        assert session.get(Campaign, campaign.id).status == "sent"


def test_through_outage_retries_lost_connections_only(db):
    calls = []

    def flaky(session):  # type: ignore[no-untyped-def]
        calls.append(1)
        if len(calls) < 3:
            raise OperationalError("SELECT 1", {}, ConnectionError("server closed"))
        return "done"

    assert db.through_outage(flaky, pause=0.01) == "done" and len(calls) == 3

    def conflict(session):  # type: ignore[no-untyped-def]
        raise IntegrityError("INSERT", {}, ValueError("duplicate key"))

    with pytest.raises(IntegrityError):  # a real error is not an outage: raised at once
        db.through_outage(conflict, pause=0.01)

    def down(session):  # type: ignore[no-untyped-def]
        raise OperationalError("SELECT 1", {}, ConnectionError("refused"))

    with pytest.raises(OperationalError):  # patience runs out
        db.through_outage(down, patience=0.05, pause=0.01)


class LostRenewal:
    """Fails the first lease renewal of a batch once ``ready()`` (some message went out), as a
    database restart would; waiting for ``ready`` keeps the test independent of the machine's
    speed (a slow start would otherwise lose the very first renewal, before any hand-off)."""

    def __init__(self, engine, ready) -> None:  # type: ignore[no-untyped-def]
        self.failed = 0
        self.ready = ready
        event.listen(engine, "before_cursor_execute", self)

    def __call__(self, conn, cursor, statement, parameters, context, executemany):  # type: ignore[no-untyped-def]
        renewal = statement.lstrip().upper().startswith("UPDATE BATCHES SET LEASE_UNTIL")
        if renewal and not self.failed and self.ready():
            self.failed += 1
            raise OperationalError(statement, parameters, ConnectionError("server closed"))


def test_rows_claimed_but_not_handed_off_when_the_lease_cannot_be_renewed_are_given_back(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(
        tmp_path, database_url, smtp_port=str(port), flush_every="10", batch_lease="0.6s"
    )
    seed_members(db, 10)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), settings.timezone)
        service.send_now(session, campaign)
    (batch_id,) = dispatch.tick(db, settings)
    slow = SlowChannel(settings, 0.1)
    outage = LostRenewal(db.engine, ready=lambda: len(recorder.messages) >= 1)
    try:
        report = dispatch.send_batch(db, settings, batch_id, channel_for=lambda k, s: slow)
    finally:
        event.remove(db.engine, "before_cursor_execute", outage)
    assert outage.failed == 1 and 0 < report.sent < 10
    with db.session() as session:
        rows = session.scalars(select(Delivery)).all()
    # the hand-offs stopped; what was not handed off is pending again, not in flight
    assert {r.status for r in rows} == {"sent", "pending"}
    assert all(r.attempts == 0 and not r.uncertain for r in rows if r.status == "pending")
    clock.shift(timedelta(minutes=5))
    drain(db, settings)
    registry.close_all()
    assert len(recorder.messages) == 10 and set(recorder.by_recipient().values()) == {1}
    with db.session() as session:
        assert not session.scalar(select(func.count()).where(Delivery.uncertain.is_(True)))
