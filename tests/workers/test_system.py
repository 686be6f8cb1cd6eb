"""Herald's processes together: a real scheduler and real Celery workers over Redis, PostgreSQL
and a real SMTP server."""

from __future__ import annotations

import os
import time
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from herald.campaigns import service
from herald.campaigns.models import Campaign, Delivery, Run
from herald.core import clock
from herald.core.db import Database
from tests.conftest import REDIS_URL, SmtpRecorder, free_port, truncate_all
from tests.helpers import email_campaign
from tests.workers.support import (
    seed_members,
    start_scheduler,
    start_worker,
    stop,
    wait_for,
    worker_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def _open_rows(db: Database) -> int:
    with db.session() as session:
        return session.scalar(
            select(func.count()).where(Delivery.status.in_(("pending", "sending")))
        )


def test_a_once_campaign_goes_out_within_five_seconds_of_its_time(pg_url, tmp_path):
    db = Database(pg_url)
    truncate_all(db)
    seed_members(db, 30)
    due = clock.now() + timedelta(seconds=6)
    with db.session() as session:
        campaign = service.create_campaign(
            session,
            email_campaign(schedule={"type": "once", "at": due.isoformat()}),
            ZoneInfo("UTC"),
        )
        service.arm(session, campaign, ZoneInfo("UTC"))
        assert campaign.status == "scheduled"
        campaign_id = campaign.id
    recorder = SmtpRecorder()
    port = free_port()
    smtp = Controller(recorder, hostname="127.0.0.1", port=port)
    smtp.start()
    queue = f"herald-sys-{os.getpid()}-{time.time_ns()}"
    env = worker_env(pg_url, REDIS_URL, queue, port, tmp_path)
    worker = start_worker(env, tmp_path / "worker.log")
    scheduler = start_scheduler(env, tmp_path / "scheduler.log")
    try:
        wait_for(lambda: len(recorder.messages) >= 1, 40, 0.05, "the first message")
        first_at = clock.now()
        wait_for(lambda: len(recorder.messages) >= 30, 30, what="all 30 messages")

        def campaign_status() -> str:
            with db.session() as session:
                return session.get(Campaign, campaign_id).status

        # the worker closes the run just after the last message is accepted
        wait_for(lambda: campaign_status() == "sent", 30, what="the campaign to be sent")
    finally:
        stop(scheduler)
        stop(worker)
        smtp.stop()
    with db.session() as session:
        assert session.get(Campaign, campaign_id).status == "sent"
        started = session.scalars(
            select(Run.started_at).where(Run.campaign_id == campaign_id)
        ).one()
    # the contract: scheduled work starts within 5 seconds of its due time
    assert due <= started < due + timedelta(seconds=5), started - due
    assert first_at >= due, "sent before its time"
    assert first_at - due < timedelta(seconds=15), first_at - due
    db.dispose()


def test_an_in_process_celery_worker_sends_a_campaign(pg_url, tmp_path, smtp_server):
    """celery.contrib.testing's worker, with the real Redis broker, runs tick and batches."""
    from celery.contrib.testing.worker import start_worker as start_test_worker

    from herald.workers import context
    from herald.workers.celery_app import celery
    from herald.workers.tasks import tick
    from tests.conftest import make_settings

    recorder, port = smtp_server
    settings = make_settings(tmp_path, pg_url, smtp_port=str(port), broker_url=REDIS_URL)
    db = Database(pg_url)
    truncate_all(db)
    seed_members(db, 120)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), ZoneInfo("UTC"))
        service.send_now(session, campaign)
    context.reset(settings)
    queue = f"herald-inproc-{os.getpid()}-{time.time_ns()}"
    old = (celery.conf.broker_url, celery.conf.task_default_queue)
    celery.conf.update(broker_url=REDIS_URL, task_default_queue=queue)
    try:
        with start_test_worker(celery, pool="solo", perform_ping_check=False, queues=[queue]):
            tick.apply_async(queue=queue)
            wait_for(lambda: len(recorder.messages) >= 120, 60, what="120 messages")
            wait_for(lambda: _open_rows(db) == 0, 30, what="the ledger to close")
    finally:
        celery.conf.update(broker_url=old[0], task_default_queue=old[1])
        context.reset()
    assert set(recorder.by_recipient().values()) == {1}
    db.dispose()
