"""Scenario 6 (issue 15): a recipient the SMTP server always refuses with 554. Everyone else gets
the message once; that recipient's delivery fails (a permanent refusal is not retried, and the
address is suppressed as a hard bounce), with no loop. Beside it, a recipient the server always
refuses with a temporary 451 shows the retry ceiling: retried with back-off, then failed after
the fifth attempt, also with no loop; the campaign is sent, not held open by either.

Real processes: a ``herald scheduler``, two ``herald worker`` processes, a private Redis, the
suite's private PostgreSQL and aiosmtpd. Herald's own back-off (2 s doubling) is not scaled."""

from __future__ import annotations

import time
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from herald.audiences.models import Contact
from herald.campaigns import service
from herald.campaigns.models import Campaign, Delivery
from herald.campaigns.recovery import MAX_ATTEMPTS
from tests.faults.support import (
    FaultySmtp,
    Processes,
    ledger,
    open_rows,
    smtp_server,
    wait_until,
)
from tests.helpers import email_campaign
from tests.workers.support import seed_members, worker_env

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.redis]

SCENARIO = 6
TITLE = "A recipient the SMTP server always refuses with 554"
MEMBERS = 2_000
REFUSED = "m00777@example.com"
GREYLISTED = "m01234@example.com"


def _row(db, email: str) -> Delivery:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return session.scalars(
            select(Delivery)
            .join(Contact, Contact.id == Delivery.contact_id)
            .where(Contact.email == email)
        ).one()


@pytest.mark.timeout(900)
def test_a_recipient_always_refused_fails_once_and_the_others_go_once(
    fault_db, private_pg, private_redis, tmp_path, figures
):
    db = fault_db
    seed_members(db, MEMBERS)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), ZoneInfo("UTC"))
        service.send_now(session, campaign)
        campaign_id = campaign.id
    smtp = FaultySmtp(
        refuse={
            REFUSED: "554 5.7.1 Recipient address rejected: access denied",
            GREYLISTED: "451 4.7.1 Try again later",
        }
    )
    figures.update(recipients=MEMBERS)
    with smtp_server(smtp) as port:
        env = worker_env(private_pg.url, private_redis.url, "herald", port, tmp_path)
        herald = Processes(env, tmp_path)
        started = time.monotonic()
        try:
            herald.scheduler()
            herald.worker(2)
            herald.worker(2)

            def finished() -> bool:
                if open_rows(db):
                    return False
                with db.session() as session:
                    return session.get(Campaign, campaign_id).status == "sent"

            wait_until(finished, 600, "the campaign to be sent")
            refusals_at_end = (smtp.refused_rcpt, smtp.count())
            time.sleep(10)  # a loop would keep knocking
            refusals_later = (smtp.refused_rcpt, smtp.count())
        finally:
            herald.stop()
        duration = time.monotonic() - started

    figures_of_ledger = ledger(db)
    received = smtp.by_recipient()
    refused, greylisted = _row(db, REFUSED), _row(db, GREYLISTED)
    duplicates = sum(n - 1 for n in received.values())
    figures.update(
        sent=figures_of_ledger["statuses"].get("sent", 0),
        failed=figures_of_ledger["statuses"].get("failed", 0),
        received=len(received),
        duplicates=duplicates,
        lost=MEMBERS - 2 - len(received),
        attempts_554=refused.attempts,
        attempts_451=greylisted.attempts,
        refusals=smtp.refused_rcpt,
        seconds=round(duration, 1),
    )
    figures.notes.append(
        f"554: failed after {refused.attempts} attempt (permanent, suppressed); "
        f"451 for ever: failed after {greylisted.attempts} attempts (the ceiling)"
    )
    assert refusals_later == refusals_at_end, "still knocking after the campaign was sent"
    assert figures_of_ledger["statuses"] == {"sent": MEMBERS - 2, "failed": 2}
    assert len(received) == MEMBERS - 2 and duplicates == 0
    assert REFUSED not in received and GREYLISTED not in received
    assert refused.status == "failed" and refused.attempts == 1
    assert "554" in (refused.reason or "")
    assert greylisted.status == "failed" and greylisted.attempts == MAX_ATTEMPTS
    assert (greylisted.reason or "").startswith(f"gave up after {MAX_ATTEMPTS} attempts")
    assert smtp.refused_rcpt == 1 + MAX_ATTEMPTS
