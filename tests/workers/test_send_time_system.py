"""Send time with Herald's real processes: the scheduler's hourly job has a worker compute best
hours from stored opens; a smart A/B campaign then sends its test group at once, decides, sends
the winner to members whose hour has come and leaves the others asleep in the ledger until
theirs, each member exactly once."""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import insert, select

from herald.audiences.models import Contact, Event
from herald.campaigns import service
from herald.campaigns.models import Batch, Campaign, Delivery, Variant
from herald.core import clock
from herald.core.db import Database
from tests.conftest import REDIS_URL, SmtpRecorder, free_port, make_settings, truncate_all
from tests.helpers import drain, email_campaign
from tests.workers.support import (
    seed_members,
    start_scheduler,
    start_worker,
    stop,
    wait_for,
    worker_env,
)

pytestmark = [pytest.mark.postgres, pytest.mark.redis]

EARLY, LATE = ZoneInfo("Pacific/Kiritimati"), ZoneInfo("Etc/GMT+12")  # UTC+14, UTC-12
MEMBERS = 24


def _seed(db: Database, now: datetime) -> tuple[list[int], list[int], int]:
    """Half the members in UTC+14 with opens at the hour before this one (their day's moment has
    passed), half in UTC-12 with no opens (the fallback, late on the same day: still ahead)."""
    seed_members(db, MEMBERS)
    hour = max(now.astimezone(EARLY).hour - 1, 0)
    with db.session() as session:
        ids = list(session.scalars(select(Contact.id).order_by(Contact.id)))
        early, late = ids[::2], ids[1::2]
        for cid in early:
            session.get(Contact, cid).timezone = EARLY.key
        for cid in late:
            session.get(Contact, cid).timezone = LATE.key
        today = now.astimezone(EARLY).replace(hour=hour, minute=20, second=0, microsecond=0)
        rows = []
        for cid in early:
            for days in (1, 2, 3):
                at = (today - timedelta(days=days)).astimezone(UTC)
                rows.append({"contact_id": cid, "occurred_at": at, "machine": False})
                # a proxy's prefetches five hours later, many of them: not a person's opens
                later = at + timedelta(hours=5)
                rows += [{"contact_id": cid, "occurred_at": later, "machine": True}] * 4
        session.execute(insert(Event), [{**r, "type": "email.opened", "data": {}} for r in rows])
    return early, late, hour


def test_a_smart_ab_campaign_with_real_workers(pg_url, tmp_path):
    db = Database(pg_url)
    truncate_all(db)
    now = clock.now()
    early, late, hour = _seed(db, now)
    day = now.astimezone(EARLY).date()
    body = email_campaign(
        schedule={"type": "smart", "date": day.isoformat(), "fallback_time": "23:00"}
    )
    body["variants"].append({"name": "B", "subject": "B", "html": "<p>B</p>"})
    body["ab_test"] = {"test_fraction": 0.5, "decide_after_hours": 0.004, "fallback": "B"}
    with db.session() as session:
        campaign_id = service.create_campaign(session, body, ZoneInfo("UTC")).id

    recorder = SmtpRecorder()
    port = free_port()
    smtp = Controller(recorder, hostname="127.0.0.1", port=port)
    smtp.start()
    queue = f"herald-sendtime-{os.getpid()}-{time.time_ns()}"
    env = worker_env(pg_url, REDIS_URL, queue, port, tmp_path, batch_size="4")
    worker = start_worker(env, tmp_path / "worker.log")
    scheduler = start_scheduler(env, tmp_path / "scheduler.log")
    try:

        def best_hours() -> dict[int, int | None]:
            with db.session() as session:
                return dict(session.execute(select(Contact.id, Contact.best_hour)).all())

        # the scheduler's hourly job runs once at start, on a worker
        wait_for(lambda: all(best_hours()[cid] == hour for cid in early), 60, what="best hours")
        assert all(best_hours()[cid] is None for cid in late)

        with db.session() as session:
            campaign = service.arm(session, session.get(Campaign, campaign_id), ZoneInfo("UTC"))
            assert campaign.next_run_at <= clock.now()  # the day has begun in UTC+14

        wait_for(lambda: len(recorder.messages) >= MEMBERS // 2, 60, what="the test group")

        def decided() -> bool:
            with db.session() as session:
                return bool((session.get(Campaign, campaign_id).ab_test or {}).get("decision"))

        wait_for(decided, 60, what="the decision")
        with db.session() as session:
            held_early = session.scalar(
                select(Delivery.id)
                .where(Delivery.contact_id.in_(early), Delivery.variant_id.is_(None))
                .limit(1)
            )
            assert held_early is None  # all released
            test_group = {
                cid
                for cid, sent in session.execute(
                    select(Delivery.contact_id, Delivery.sent_at).where(
                        Delivery.sent_at.is_not(None)
                    )
                )
            }
        early_rest = [cid for cid in early if cid not in test_group]
        wait_for(
            lambda: len(recorder.messages) >= len(test_group) + len(early_rest),
            60,
            what="the winner to the members whose hour has come",
        )
        time.sleep(3)  # anything sent too early would show now
        with db.session() as session:
            waiting = session.execute(
                select(Delivery.contact_id, Delivery.status, Delivery.not_before, Variant.name)
                .join(Variant, Variant.id == Delivery.variant_id)
                .where(Delivery.sent_at.is_(None))
            ).all()
            sleeping = session.scalars(
                select(Batch.lease_until).where(Batch.status == "queued")
            ).all()
        late_rest = [cid for cid in late if cid not in test_group]
        assert sorted(cid for cid, *_ in waiting) == sorted(late_rest)
        fallback_at = datetime.combine(day, datetime.min.time()).replace(hour=23, tzinfo=LATE)
        assert {(status, not_before, name) for _, status, not_before, name in waiting} == {
            ("pending", fallback_at.astimezone(UTC), "B")
        }
        assert sleeping and all(wake > clock.now() for wake in sleeping)
        assert len(recorder.messages) == MEMBERS - len(late_rest)
    finally:
        stop(scheduler)
        stop(worker)

    try:
        # the late members' hour, in this process with the clock moved on
        settings = make_settings(tmp_path, pg_url, smtp_port=str(port))
        clock.shift(fallback_at - clock.now() - timedelta(minutes=1))
        drain(db, settings)
        assert len(recorder.messages) == MEMBERS - len(late_rest)  # not a minute early
        clock.shift(timedelta(minutes=2))
        drain(db, settings)
    finally:
        smtp.stop()
    assert len(recorder.messages) == MEMBERS
    assert set(recorder.by_recipient().values()) == {1}
    with db.session() as session:
        assert session.get(Campaign, campaign_id).status == "sent"
    db.dispose()
