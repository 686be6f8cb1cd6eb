"""Scenario 1 (issue 15): every worker is SIGKILLed three times during a 10,000-recipient send and
started again. Nobody is lost; a duplicate is only ever one of the deliveries in flight at a
kill, and each such delivery is marked uncertain in the ledger.

Real processes throughout: a ``herald scheduler`` ticking every second, two ``herald worker``
processes (prefork, two children each) over a private Redis, the suite's private PostgreSQL and
an aiosmtpd server. Leases are 5 s instead of 60 s (``HERALD_BATCH_LEASE``) so that the
recovery after each kill takes seconds, not minutes; nothing else is scaled."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from herald.audiences.models import Contact
from herald.campaigns import service
from herald.campaigns.models import Campaign, Delivery
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

SCENARIO = 1
TITLE = "Every worker SIGKILLed three times during a 10,000-recipient send"
RECIPIENTS = size("kill_recipients", 10_000)
WORKERS, CONCURRENCY, FLUSH_EVERY, KILLS = 2, 2, 20, 3


def _sending(db) -> set[int]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return set(session.scalars(select(Delivery.id).where(Delivery.status == "sending")))


@pytest.mark.timeout(1500)
def test_every_worker_killed_three_times_loses_nobody(
    fault_db, private_pg, private_redis, tmp_path, figures
):
    db = fault_db
    seed_members(db, RECIPIENTS)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), ZoneInfo("UTC"))
        service.send_now(session, campaign)
        campaign_id = campaign.id
    smtp = FaultySmtp(delay=0.002)
    figures.update(recipients=RECIPIENTS, workers=WORKERS, concurrency=CONCURRENCY)
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
            flush_every=str(FLUSH_EVERY),
        )
        herald = Processes(env, tmp_path)
        started = time.monotonic()
        kills: list[dict[str, float]] = []
        in_flight_ids: set[int] = set()
        try:
            herald.scheduler()
            for _ in range(WORKERS):
                herald.worker(CONCURRENCY)
            for k in range(KILLS):
                target = RECIPIENTS * (k + 1) // (KILLS + 1)
                wait_until(lambda t=target: smtp.count() >= t, 600, f"{target} messages")
                killed = herald.kill_workers()
                at_kill = smtp.count()
                in_flight = _sending(db)  # claimed, outcome unknown: the duplicate bound
                in_flight_ids |= in_flight
                killed_at = time.monotonic()
                for _ in range(WORKERS):
                    herald.worker(CONCURRENCY)
                # recovered: the new workers hand messages to the server again
                wait_until(lambda n=at_kill: smtp.count() > n + 50, 300, "messages after a kill")
                kills.append(
                    {
                        "killed": killed,
                        "received_at_kill": at_kill,
                        "in_flight": len(in_flight),
                        "recover_seconds": round(time.monotonic() - killed_at, 1),
                    }
                )
            assert smtp.count() < RECIPIENTS, "the send finished before the last kill"

            def finished() -> bool:
                if open_rows(db):
                    return False
                with db.session() as session:
                    return session.get(Campaign, campaign_id).status == "sent"

            wait_until(finished, 900, "every delivery closed and the campaign sent")
        finally:
            herald.stop()
        duration = time.monotonic() - started

    figures_of_ledger = ledger(db)
    received = smtp.by_recipient()
    duplicated = {rcpt for rcpt, n in received.items() if n > 1}
    with db.session() as session:
        uncertain_emails = set(
            session.scalars(
                select(Contact.email)
                .join(Delivery, Delivery.contact_id == Contact.id)
                .where(Delivery.uncertain.is_(True))
            )
        )
    # a row still in flight at the next kill (its batch not yet taken again) counts once
    in_flight_total = len(in_flight_ids)
    duplicates = sum(n - 1 for n in received.values())
    figures.update(
        sent=figures_of_ledger["statuses"].get("sent", 0),
        received=len(received),
        duplicates=duplicates,
        lost=RECIPIENTS - len(received),
        uncertain=figures_of_ledger["uncertain"],
        in_flight_at_kills=in_flight_total,
        kills=kills,
        recover_seconds=max(k["recover_seconds"] for k in kills),
        seconds=round(duration, 1),
    )
    figures.notes.append(
        f"{KILLS} kills of all {WORKERS} workers; leases 5 s (HERALD_BATCH_LEASE), "
        f"{FLUSH_EVERY} rows claimed per write"
    )
    assert figures_of_ledger["rows"] == RECIPIENTS == figures_of_ledger["contacts"]
    assert figures_of_ledger["statuses"] == {"sent": RECIPIENTS}, figures_of_ledger
    assert len(received) == RECIPIENTS, "lost recipients"
    assert duplicates <= in_flight_total, (duplicates, kills)
    assert duplicated <= uncertain_emails, "a duplicate that the ledger does not mark uncertain"
    assert figures_of_ledger["uncertain"] <= in_flight_total
