"""Scenario 3 (issue 15): a send scheduled 5 minutes ahead with a 60-second broker visibility
timeout: each member gets the message once.

With Celery on Redis, a message a worker has taken but not acknowledged is handed out again once
the visibility timeout passes; a task scheduled ahead with an ETA, or one that runs longer than
the timeout, then runs twice. Herald keeps what is due in the database (nothing waits in the
broker until its time) and each batch under a lease, so a redelivered batch task finds the batch
held and sends nothing.

Scaled in time by ``HERALD_FAULT_TIME_SCALE`` (default 0.2; 1 is the issue's full size): the send
is scheduled 300 s × scale ahead (60 s) with a visibility timeout of 60 s × scale (12 s), through
``HERALD_BROKER_VISIBILITY_TIMEOUT``. Each batch is made to take 1.5 visibility timeouts (a slow
SMTP server), so the broker does hand batch tasks out again while they run; the test counts
those redeliveries in the workers' logs."""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from herald.campaigns import service
from herald.campaigns.models import Campaign, Run
from herald.core import clock
from tests.faults.support import (
    FaultySmtp,
    Processes,
    ledger,
    open_rows,
    size,
    smtp_server,
    wait_until,
)
from tests.helpers import email_campaign
from tests.workers.support import seed_members, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SCENARIO = 3
TITLE = "A send scheduled 5 minutes ahead with a 60-second broker visibility timeout"
SCALE = float(os.environ.get("HERALD_FAULT_TIME_SCALE", "0.2"))
AHEAD = 300 * SCALE
VISIBILITY = 60 * SCALE
MEMBERS = size("visibility_members", 1_000)
BATCH = 100


@pytest.mark.timeout(1200)
def test_a_send_scheduled_past_the_visibility_timeout_reaches_each_member_once(
    fault_db, private_pg, private_redis, tmp_path, figures
):
    db = fault_db
    seed_members(db, MEMBERS)
    due = clock.now() + timedelta(seconds=AHEAD)
    with db.session() as session:
        campaign = service.create_campaign(
            session,
            email_campaign(schedule={"type": "once", "at": due.isoformat()}),
            ZoneInfo("UTC"),
        )
        service.arm(session, campaign, ZoneInfo("UTC"))
        campaign_id = campaign.id
    # one batch takes 1.5 visibility timeouts: the broker hands its task out again meanwhile
    smtp = FaultySmtp(delay=1.5 * VISIBILITY / BATCH)
    figures.update(recipients=MEMBERS, ahead_seconds=AHEAD, visibility_timeout_seconds=VISIBILITY)
    with smtp_server(smtp) as port:
        env = worker_env(
            private_pg.url,
            private_redis.url,
            "herald",
            port,
            tmp_path,
            batch_size=str(BATCH),
            broker_visibility_timeout=f"{VISIBILITY}s",
        )
        herald = Processes(env, tmp_path)
        started = time.monotonic()
        try:
            herald.scheduler()
            herald.worker(2)
            herald.worker(2)
            wait_until(lambda: smtp.count() > 0, AHEAD + 120, "the first message")
            first_at = clock.now()

            def finished() -> bool:
                if open_rows(db):
                    return False
                with db.session() as session:
                    return session.get(Campaign, campaign_id).status == "sent"

            wait_until(finished, 900, "the campaign to be sent")
        finally:
            herald.stop()
        duration = time.monotonic() - started
        logs = herald.worker_logs()

    received = smtp.by_recipient()
    figures_of_ledger = ledger(db)
    taken = Counter(re.findall(r"Task herald\.send_batch\[([0-9a-f-]+)\] received", logs))
    redelivered = sum(n - 1 for n in taken.values())
    with db.session() as session:
        runs = session.scalars(select(Run).where(Run.campaign_id == campaign_id)).all()
    duplicates = sum(n - 1 for n in received.values())
    figures.update(
        sent=figures_of_ledger["statuses"].get("sent", 0),
        received=len(received),
        duplicates=duplicates,
        lost=MEMBERS - len(received),
        uncertain=figures_of_ledger["uncertain"],
        runs=len(runs),
        batch_tasks_redelivered=redelivered,
        started_late_seconds=round((runs[0].started_at - due).total_seconds(), 1) if runs else None,
        seconds=round(duration, 1),
    )
    figures.notes.append(
        f"scaled ×{SCALE} (HERALD_FAULT_TIME_SCALE): {AHEAD:.0f} s ahead, "
        f"visibility timeout {VISIBILITY:.0f} s; batch tasks redelivered by the broker: "
        f"{redelivered}"
    )
    assert len(runs) == 1
    assert runs[0].started_at >= due, "started before its time"
    assert first_at >= due
    assert figures_of_ledger["statuses"] == {"sent": MEMBERS}, figures_of_ledger
    assert len(received) == MEMBERS and duplicates == 0, (len(received), duplicates)
    assert redelivered > 0, "the broker never handed a task out again: the fault did not happen"
