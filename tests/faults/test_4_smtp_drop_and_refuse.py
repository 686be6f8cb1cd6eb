"""Scenario 4 (issue 15): the SMTP server drops the connection at message 2,500 (before replying,
so that message was not accepted), then refuses every message with ``421`` for 30 seconds. Nobody
is lost, nobody gets the message twice, and the campaign is never marked sent while ledger rows
are still pending.

Real processes: a ``herald scheduler``, two ``herald worker`` processes, a private Redis, the
suite's private PostgreSQL and an aiosmtpd server told to misbehave (tests/faults/support.py).
Nothing is scaled: the outage is the issue's 30 seconds and the retry back-off Herald's own."""

from __future__ import annotations

import threading
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

SCENARIO = 4
TITLE = "SMTP drops the connection at message 2,500, then refuses for 30 s"
RECIPIENTS = size("smtp_recipients", 5_000)
DROP_AT = 2_500
REFUSE_SECONDS = 30.0


class PrematureSent:
    """Watches, every half second, for the campaign marked sent while rows are still open."""

    def __init__(self, db, campaign_id: int) -> None:  # type: ignore[no-untyped-def]
        self.db, self.campaign_id = db, campaign_id
        self.seen: list[int] = []
        self.done = threading.Event()
        self.thread = threading.Thread(target=self._watch, daemon=True)
        self.thread.start()

    def _watch(self) -> None:
        while not self.done.wait(0.5):
            with self.db.session() as session:
                status = session.get(Campaign, self.campaign_id).status
            if status == "sent":
                pending = open_rows(self.db)
                if pending:
                    self.seen.append(pending)
                return

    def stop(self) -> None:
        self.done.set()
        self.thread.join(timeout=10)


@pytest.mark.timeout(1200)
def test_an_smtp_drop_then_refusals_lose_and_repeat_nothing(
    fault_db, private_pg, private_redis, tmp_path, figures
):
    db = fault_db
    seed_members(db, RECIPIENTS)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), ZoneInfo("UTC"))
        service.send_now(session, campaign)
        campaign_id = campaign.id
    smtp = FaultySmtp(delay=0.002, drop_at=DROP_AT, refuse_for=REFUSE_SECONDS)
    figures.update(recipients=RECIPIENTS, drop_at=DROP_AT, refuse_seconds=REFUSE_SECONDS)
    watch = PrematureSent(db, campaign_id)
    with smtp_server(smtp) as port:
        env = worker_env(
            private_pg.url,
            private_redis.url,
            "herald",
            port,
            tmp_path,
            batch_size="250",
            smtp_timeout="5",
        )
        herald = Processes(env, tmp_path)
        started = time.monotonic()
        try:
            herald.scheduler()
            herald.worker(2)
            herald.worker(2)
            wait_until(lambda: smtp.dropped_at is not None, 600, "the dropped connection")
            assert smtp.dropped_at is not None
            wait_until(lambda: time.monotonic() > smtp.refusing_until, 60, "the refusals' end")
            at_recovery = smtp.count()
            wait_until(lambda: smtp.count() > at_recovery, 300, "a message accepted again")
            recovered = time.monotonic() - smtp.refusing_until

            def finished() -> bool:
                if open_rows(db):
                    return False
                with db.session() as session:
                    return session.get(Campaign, campaign_id).status in ("sent", "failed")

            wait_until(finished, 900, "every delivery closed and the campaign finished")
        finally:
            herald.stop()
            watch.stop()
        duration = time.monotonic() - started

    received = smtp.by_recipient()
    figures_of_ledger = ledger(db)
    duplicates = sum(n - 1 for n in received.values())
    with db.session() as session:
        status = session.get(Campaign, campaign_id).status
    figures.update(
        sent=figures_of_ledger["statuses"].get("sent", 0),
        failed=figures_of_ledger["statuses"].get("failed", 0),
        received=len(received),
        duplicates=duplicates,
        lost=RECIPIENTS - len(received),
        uncertain=figures_of_ledger["uncertain"],
        refused_421=smtp.refused_mail,
        recover_seconds=round(recovered, 1),
        marked_sent_while_pending=len(watch.seen),
        seconds=round(duration, 1),
    )
    figures.notes.append(
        "time to recover: from the end of the refusals to the next accepted message"
    )
    assert not watch.seen, f"campaign marked sent with {watch.seen[0]} rows open"
    assert figures_of_ledger["statuses"] == {"sent": RECIPIENTS}, figures_of_ledger
    assert len(received) == RECIPIENTS, "lost recipients"
    assert duplicates == 0
    assert status == "sent"
