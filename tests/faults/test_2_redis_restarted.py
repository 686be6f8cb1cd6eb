"""Scenario 2 (issue 15): the Redis broker is killed in the middle of a send and comes back empty
(no persistence: every queued wake-up is gone). Nobody is lost and the run completes by itself:
the scheduler keeps ticking through the outage (its enqueue failures are logged, not fatal), the
workers reconnect, and the reconciler finds the unfinished batches in the database.

Real processes: a ``herald scheduler``, two ``herald worker`` processes, a private Redis that the
test kills with SIGKILL and starts again empty, the suite's private PostgreSQL and aiosmtpd."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

import pytest

from herald.campaigns import service
from herald.campaigns.models import Campaign
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

SCENARIO = 2
TITLE = "Redis killed and restarted empty mid-send"
RECIPIENTS = size("redis_recipients", 5_000)
DOWN_SECONDS = 5


@pytest.mark.timeout(1200)
def test_redis_killed_and_restarted_empty_loses_nobody_and_the_run_completes(
    fault_db, private_pg, private_redis, tmp_path, figures
):
    db = fault_db
    seed_members(db, RECIPIENTS)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), ZoneInfo("UTC"))
        service.send_now(session, campaign)
        campaign_id = campaign.id
    smtp = FaultySmtp(delay=0.002)
    figures.update(recipients=RECIPIENTS)
    with smtp_server(smtp) as port:
        env = worker_env(
            private_pg.url,
            private_redis.url,
            "herald",
            port,
            tmp_path,
            batch_size="250",
            batch_lease="5s",
            requeue_after="5s",
        )
        herald = Processes(env, tmp_path)
        started = time.monotonic()
        try:
            herald.scheduler()
            herald.worker(2)
            herald.worker(2)
            wait_until(lambda: smtp.count() >= RECIPIENTS // 4, 600, "a quarter of the send")
            private_redis.kill()  # every queued wake-up is gone
            at_kill = smtp.count()
            time.sleep(DOWN_SECONDS)
            private_redis.start()  # empty: no save, no append-only file
            restarted = time.monotonic()

            def finished() -> bool:
                if open_rows(db):
                    return False
                with db.session() as session:
                    return session.get(Campaign, campaign_id).status == "sent"

            # nobody ticks from the test: the scheduler and workers finish on their own
            wait_until(finished, 900, "the run to complete by itself")
            completed = time.monotonic() - restarted
        finally:
            herald.stop()
        duration = time.monotonic() - started

    figures_of_ledger = ledger(db)
    received = smtp.by_recipient()
    duplicates = sum(n - 1 for n in received.values())
    figures.update(
        sent=figures_of_ledger["statuses"].get("sent", 0),
        received=len(received),
        duplicates=duplicates,
        lost=RECIPIENTS - len(received),
        uncertain=figures_of_ledger["uncertain"],
        received_at_kill=at_kill,
        recover_seconds=round(completed, 1),
        seconds=round(duration, 1),
    )
    figures.notes.append("time to recover: from the restart to the run sent")
    figures.notes.append(
        f"Redis down {DOWN_SECONDS} s, restarted empty; leases and requeue 5 s "
        "(HERALD_BATCH_LEASE, HERALD_REQUEUE_AFTER; 60 s by default)"
    )
    assert figures_of_ledger["statuses"] == {"sent": RECIPIENTS}, figures_of_ledger
    assert figures_of_ledger["rows"] == RECIPIENTS == figures_of_ledger["contacts"]
    assert len(received) == RECIPIENTS, "lost recipients"
    assert duplicates <= figures_of_ledger["uncertain"], "a duplicate not marked uncertain"
