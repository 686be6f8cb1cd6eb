"""Scenario 5 (issue 15): two schedulers started at the same second dispatch each due campaign
once. Both tick every second into the same queue, two workers take the ticks side by side, and
five campaigns fall due at the same moment: each gets one run and each member one message per
campaign. (The scheduler's job store is private to its process; what is due lives in the
database and is claimed atomically, see herald/workers/scheduler.py.)"""

from __future__ import annotations

import time
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import func, select

from herald.campaigns import service
from herald.campaigns.models import Campaign, Delivery, Run
from herald.core import clock
from tests.faults.support import FaultySmtp, Processes, open_rows, smtp_server, wait_until
from tests.helpers import email_campaign
from tests.workers.support import seed_members, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SCENARIO = 5
TITLE = "Two schedulers started at the same second"
MEMBERS = 400
CAMPAIGNS = 5


@pytest.mark.timeout(900)
def test_two_schedulers_dispatch_each_due_campaign_once(
    fault_db, private_pg, private_redis, tmp_path, figures
):
    db = fault_db
    seed_members(db, MEMBERS)
    due = clock.now() + timedelta(seconds=15)
    ids = []
    with db.session() as session:
        for n in range(CAMPAIGNS):
            body = email_campaign(
                name=f"Flash sale {n}", schedule={"type": "once", "at": due.isoformat()}
            )
            body["variants"][0]["subject"] = f"Flash sale {n}"
            campaign = service.create_campaign(session, body, ZoneInfo("UTC"))
            service.arm(session, campaign, ZoneInfo("UTC"))
            ids.append(campaign.id)
    smtp = FaultySmtp()
    expected = MEMBERS * CAMPAIGNS
    figures.update(recipients=expected, campaigns=CAMPAIGNS, schedulers=2)
    with smtp_server(smtp) as port:
        env = worker_env(private_pg.url, private_redis.url, "herald", port, tmp_path)
        herald = Processes(env, tmp_path)
        started = time.monotonic()
        try:
            herald.worker(2)
            herald.worker(2)
            herald.scheduler()  # the two schedulers start together
            herald.scheduler()

            def finished() -> bool:
                if smtp.count() < expected or open_rows(db):
                    return False
                with db.session() as session:
                    statuses = session.scalars(select(Campaign.status).where(Campaign.id.in_(ids)))
                    return set(statuses) == {"sent"}

            wait_until(finished, 600, "every campaign sent")
            time.sleep(5)  # a second dispatch would show now: both schedulers keep ticking
        finally:
            herald.stop()
        duration = time.monotonic() - started

    with db.session() as session:
        runs = Counter(session.scalars(select(Run.campaign_id).where(Run.campaign_id.in_(ids))))
        rows = session.scalar(select(func.count()).select_from(Delivery))
    received = smtp.message_ids()
    per_recipient = Counter({rcpt: len(mids) for rcpt, mids in received.items()})
    copies = smtp.by_recipient()
    duplicates = sum(copies.values()) - sum(per_recipient.values())
    figures.update(
        runs=sum(runs.values()),
        sent=rows,
        received=sum(per_recipient.values()),
        duplicates=duplicates,
        lost=expected - sum(per_recipient.values()),
        seconds=round(duration, 1),
    )
    figures.notes.append(f"{CAMPAIGNS} campaigns due at the same second, two workers")
    assert runs == {cid: 1 for cid in ids}, runs
    assert rows == expected
    assert set(copies.values()) == {CAMPAIGNS}  # each member once per campaign
    assert duplicates == 0
