"""A worker is SIGKILLed while 5,000 members pass a journey's message step: a new worker finishes.
Every member ends with exactly one ledger row for the step in their entry, every member got the
message (none lost), and any duplicate is one of the rows in flight at the kill (flagged
uncertain and handed off again with the same Message-ID), as for every broadcast."""

from __future__ import annotations

import asyncio
import os
import time

import pytest
from aiosmtpd.controller import Controller
from celery import Celery
from sqlalchemy import func, select

from herald.audiences.models import Segment
from herald.campaigns.models import Delivery
from herald.core import clock
from herald.core.db import Database
from herald.journeys import segment_entry, service
from herald.journeys.models import JourneyEntry, JourneyVisit
from tests.conftest import REDIS_URL, SmtpRecorder, free_port, truncate_all
from tests.workers.support import kill_hard, seed_members, start_worker, stop, wait_for, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

MEMBERS = 5000
CONCURRENCY = 2
FLUSH_EVERY = 20


class SlowRecorder(SmtpRecorder):
    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.001)
        return await super().handle_DATA(server, session, envelope)


@pytest.mark.timeout(900)  # two cores shared with other test sessions: 5,000 real messages
def test_a_killed_worker_mid_step_loses_no_member_and_sends_each_once(pg_url, tmp_path):
    from zoneinfo import ZoneInfo

    db = Database(pg_url)
    truncate_all(db)
    with db.session() as session:
        segment = Segment(name="Everyone", rules={"field": "email", "op": "is_set"})
        session.add(segment)
        session.flush()
        journey = service.create(
            session,
            {
                "name": "Hello everyone",
                "entry": {"segment_id": segment.id},
                "steps": [
                    {
                        "id": "hello",
                        "type": "message",
                        "channel": "email",
                        "variants": [{"name": "A", "subject": "Hello", "html": "<p>Hi</p>"}],
                        "next": "after",
                    },
                    {"id": "after", "type": "wait", "minutes": 60, "next": "exit"},
                ],
            },
            ZoneInfo("UTC"),
        )
        service.activate(session, journey)
        # a segment entry takes members who join after it starts watching: it looks at the
        # (empty) segment first, then the 5,000 members arrive
        segment_entry.joiners(session, journey, clock.now(), ZoneInfo("UTC"))
        journey_id = journey.id
    seed_members(db, MEMBERS)

    recorder = SlowRecorder()
    port = free_port()
    smtp = Controller(recorder, hostname="127.0.0.1", port=port)
    smtp.start()
    queue = f"herald-jfault-{os.getpid()}-{time.time_ns()}"
    env = worker_env(
        pg_url,
        REDIS_URL,
        queue,
        port,
        tmp_path,
        batch_size="250",
        batch_lease="3s",
        requeue_after="4s",
        flush_every=str(FLUSH_EVERY),
    )
    producer = Celery(broker=REDIS_URL)
    producer.conf.task_default_queue = queue

    def tick() -> None:
        producer.send_task("herald.tick", queue=queue, expires=10)

    first = start_worker(env, tmp_path / "worker1.log", CONCURRENCY)
    second = None
    try:

        def started() -> bool:
            tick()  # a tick sent before the worker was up may have expired
            return len(recorder.messages) >= 1000

        try:
            wait_for(started, 180, interval=1.0, what="1000 messages before the kill")
        except AssertionError:
            print((tmp_path / "worker1.log").read_text()[-4000:])
            raise
        kill_hard(first)
        at_kill = len(recorder.messages)
        assert at_kill < MEMBERS, "the step finished before the kill: make it slower"
        second = start_worker(env, tmp_path / "worker2.log", CONCURRENCY)

        def all_terminal() -> bool:
            tick()
            with db.session() as session:
                open_rows = session.scalar(
                    select(func.count()).where(Delivery.status.in_(("pending", "sending")))
                )
                rows = session.scalar(select(func.count()).select_from(Delivery))
            print(f"ledger rows {rows}, still open {open_rows}, received {len(recorder.messages)}")
            return rows == MEMBERS and open_rows == 0

        wait_for(all_terminal, 600, interval=1.0, what="every delivery to reach a final state")
        tick()  # a further tick must not write anything again
        time.sleep(2)
    finally:
        stop(first)
        if second is not None:
            stop(second)
        smtp.stop()
        producer.close()

    with db.session() as session:
        rows = session.scalar(select(func.count()).select_from(Delivery))
        per_contact = session.scalar(select(func.count(func.distinct(Delivery.contact_id))))
        statuses = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
        uncertain = session.scalar(select(func.count()).where(Delivery.uncertain.is_(True)))
        entries = session.scalar(select(func.count()).where(JourneyEntry.journey_id == journey_id))
        linked = session.scalar(
            select(func.count(func.distinct(JourneyVisit.delivery_id))).where(
                JourneyVisit.step == "hello"
            )
        )
        waiting = session.scalar(
            select(func.count()).where(JourneyEntry.step == "after", JourneyEntry.state == "active")
        )
    db.dispose()
    received = recorder.by_recipient()
    duplicates = sum(n - 1 for n in received.values())
    assert entries == MEMBERS and waiting == MEMBERS  # everyone passed the step, once
    assert rows == MEMBERS and per_contact == MEMBERS and linked == MEMBERS
    assert statuses == {"sent": MEMBERS}, statuses
    assert len(received) == MEMBERS  # nobody lost
    assert duplicates <= uncertain <= CONCURRENCY * FLUSH_EVERY, (duplicates, uncertain)
    print(f"killed at {at_kill} received; {uncertain} uncertain; {duplicates} duplicates")
