"""A worker is killed (SIGKILL) in the middle of a 2,000-recipient send; a new worker finishes
the job. Every recipient ends with exactly one ledger row, the SMTP server received every
message, and duplicates are bounded by the messages in flight (each one flagged uncertain)."""

from __future__ import annotations

import asyncio
import os
import time
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from celery import Celery
from sqlalchemy import func, select

from herald.campaigns import service
from herald.campaigns.models import Campaign, Delivery
from herald.core.db import Database
from tests.conftest import REDIS_URL, SmtpRecorder, free_port, truncate_all
from tests.helpers import email_campaign
from tests.workers.support import kill_hard, seed_members, start_worker, stop, wait_for, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

RECIPIENTS = 2000
CONCURRENCY = 2
FLUSH_EVERY = 20


class SlowRecorder(SmtpRecorder):
    """A real SMTP server that takes a little time per message, like a real one."""

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        await asyncio.sleep(0.002)
        return await super().handle_DATA(server, session, envelope)


def test_a_killed_worker_loses_nothing_and_duplicates_are_bounded(pg_url, tmp_path):
    db = Database(pg_url)
    truncate_all(db)
    seed_members(db, RECIPIENTS)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), ZoneInfo("UTC"))
        service.send_now(session, campaign)
        campaign_id = campaign.id

    recorder = SlowRecorder()
    port = free_port()
    smtp = Controller(recorder, hostname="127.0.0.1", port=port)
    smtp.start()
    queue = f"herald-fault-{os.getpid()}-{time.time_ns()}"
    env = worker_env(
        pg_url,
        REDIS_URL,
        queue,
        port,
        tmp_path,
        batch_size="100",
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

        def sending() -> bool:
            tick()  # as the scheduler would: a tick that expired before the worker was up
            return len(recorder.messages) >= 600

        wait_for(sending, 90, interval=1.0, what="600 messages before the kill")
        kill_hard(first)
        at_kill = len(recorder.messages)
        assert at_kill < RECIPIENTS, "the send finished before the kill: make it slower"

        second = start_worker(env, tmp_path / "worker2.log", CONCURRENCY)

        def all_terminal() -> bool:
            tick()
            with db.session() as session:
                open_rows = session.scalar(
                    select(func.count()).where(Delivery.status.in_(("pending", "sending")))
                )
            return open_rows == 0

        wait_for(all_terminal, 180, interval=1.0, what="every delivery to reach a final state")

        def campaign_sent() -> bool:
            with db.session() as session:
                return session.get(Campaign, campaign_id).status == "sent"

        # the batch and run close in the transaction after the last rows are recorded
        wait_for(campaign_sent, 30, interval=0.5, what="the campaign to be sent")
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
        campaign_status = session.get(Campaign, campaign_id).status
    db.dispose()

    received = recorder.by_recipient()
    duplicates = sum(n - 1 for n in received.values())
    assert rows == RECIPIENTS and per_contact == RECIPIENTS  # one ledger row per recipient
    assert statuses == {"sent": RECIPIENTS}, statuses
    assert len(received) == RECIPIENTS  # nobody lost
    assert duplicates <= uncertain <= CONCURRENCY * FLUSH_EVERY, (duplicates, uncertain)
    assert campaign_status == "sent"
    print(
        f"killed at {at_kill} received; {uncertain} uncertain re-handed-off;"
        f" {duplicates} duplicates"
    )
