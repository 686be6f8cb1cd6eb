"""The behaviour refresh as the scheduler runs it: a Celery task on a real worker over Redis
recomputes RFM scores and rolls points expiry over; the scheduler has both jobs."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from herald.audiences.models import Contact, ContactScore, PointsLot
from herald.core import clock
from herald.core.db import Database
from tests.conftest import REDIS_URL, make_settings, truncate_all
from tests.workers.support import wait_for

pytestmark = [pytest.mark.postgres, pytest.mark.redis]


def test_a_worker_recomputes_scores_and_rolls_points_over(pg_url, tmp_path):  # type: ignore[no-untyped-def]
    from celery.contrib.testing.worker import start_worker as start_test_worker

    from herald.workers import context
    from herald.workers.celery_app import celery
    from herald.workers.tasks import refresh_behaviour

    settings = make_settings(tmp_path, pg_url, broker_url=REDIS_URL)
    db = Database(pg_url)
    truncate_all(db)
    today = clock.now().date()
    with db.session() as session:
        for i in range(10):
            session.add(
                Contact(
                    email=f"m{i}@shop.cn",
                    attributes={},
                    orders_count=i % 4,
                    total_spent=Decimal(i * 10),
                    last_order_at=clock.now() - timedelta(days=i) if i % 4 else None,
                    # member 0's nearest lot passed yesterday; the next is in a week
                    points_expiring=100 if i == 0 else None,
                    points_expire_at=today - timedelta(days=1) if i == 0 else None,
                )
            )
        session.flush()
        first = session.scalar(select(Contact.id).where(Contact.email == "m0@shop.cn"))
        session.add_all(
            [
                PointsLot(contact_id=first, points=100, expires_at=today - timedelta(days=1)),
                PointsLot(contact_id=first, points=70, expires_at=today + timedelta(days=7)),
            ]
        )
        session.commit()
    context.reset(settings)
    queue = f"herald-behaviour-{os.getpid()}-{time.time_ns()}"
    old = (celery.conf.broker_url, celery.conf.task_default_queue)
    celery.conf.update(broker_url=REDIS_URL, task_default_queue=queue)

    def scored() -> int:
        with db.session() as session:
            return len(session.scalars(select(ContactScore.contact_id)).all())

    try:
        with start_test_worker(celery, pool="solo", perform_ping_check=False, queues=[queue]):
            refresh_behaviour.apply_async(queue=queue)
            wait_for(lambda: scored() == 7, 60, what="scores for the 7 buyers")
    finally:
        celery.conf.update(broker_url=old[0], task_default_queue=old[1])
        context.reset()
    with db.session() as session:
        member = session.get(Contact, first)
        assert (member.points_expiring, member.points_expire_at) == (70, today + timedelta(days=7))
        assert session.scalars(select(PointsLot.points)).all() == [70]
    db.dispose()


def test_the_scheduler_runs_the_refresh_at_start_daily_and_the_roll_over_hourly(tmp_path):  # type: ignore[no-untyped-def]
    from herald.workers.scheduler import build_scheduler

    settings = make_settings(tmp_path, "sqlite:///" + str(tmp_path / "s.db"))
    jobs = {job.id: job for job in build_scheduler(settings).get_jobs()}
    behaviour, hourly = jobs["behaviour"], jobs["points-roll-over"]
    assert "hour='3'" in str(behaviour.trigger) and "minute='0'" in str(behaviour.trigger)
    assert behaviour.next_run_time is not None
    assert behaviour.next_run_time <= datetime.now(UTC) + timedelta(seconds=5)  # at start
    assert hourly.trigger.interval == timedelta(hours=1)
