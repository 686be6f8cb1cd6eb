"""Scenario 7 (issue 15): PostgreSQL is restarted in the middle of a send. The workers reconnect,
nobody is lost and nobody gets the message twice.

The server is the fault suite's private cluster (the shared one is never touched): stopped with
``pg_ctl -m immediate`` (every backend killed, as in a crash), kept down a few seconds, started
again. Real processes: a ``herald scheduler``, two ``herald worker`` processes, a private Redis and
aiosmtpd."""

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

SCENARIO = 7
TITLE = "PostgreSQL restarted mid-send"
RECIPIENTS = size("postgres_recipients", 5_000)
DOWN_SECONDS = 5


@pytest.mark.timeout(1200)
def test_a_postgres_restart_mid_send_loses_and_repeats_nothing(
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
            batch_lease="15s",
            requeue_after="5s",
        )
        herald = Processes(env, tmp_path)
        started = time.monotonic()
        try:
            herald.scheduler()
            herald.worker(2)
            herald.worker(2)
            wait_until(lambda: smtp.count() >= RECIPIENTS // 3, 600, "a third of the send")
            private_pg.stop("immediate")
            at_stop = smtp.count()
            time.sleep(DOWN_SECONDS)
            during = smtp.count() - at_stop
            private_pg.start()
            restarted = time.monotonic()
            db.engine.dispose()  # the test's own pooled connections died with the server

            def finished() -> bool:
                try:
                    if open_rows(db):
                        return False
                    with db.session() as session:
                        return session.get(Campaign, campaign_id).status == "sent"
                except Exception:
                    return False

            wait_until(finished, 900, "the run to complete after the restart")
            recovered = time.monotonic() - restarted
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
        received_at_stop=at_stop,
        received_while_down=during,
        recover_seconds=round(recovered, 1),
        seconds=round(duration, 1),
    )
    figures.notes.append(
        f"pg_ctl stop -m immediate, down {DOWN_SECONDS} s; time to recover: from the restart "
        "to the run sent; leases 15 s (HERALD_BATCH_LEASE)"
    )
    assert figures_of_ledger["statuses"] == {"sent": RECIPIENTS}, figures_of_ledger
    assert len(received) == RECIPIENTS, "lost recipients"
    assert duplicates == 0, f"{duplicates} sent twice"
