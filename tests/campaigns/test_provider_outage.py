"""Regression for fault scenario 4 (RELIABILITY.md): an SMTP server refusing every message for a
while (421, or unreachable) used to cost every pending member a retry attempt per pass, so a
30-second outage gave up on hundreds of members ("gave up after 5 attempts: SMTP 421 ..."). An
outage is now the provider's failure: the batch stops at the first refusal, every member waits,
and nobody is given up for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from herald.campaigns import metrics, service
from herald.campaigns.models import Campaign, Delivery
from herald.channels import registry
from herald.channels.smtp_pool import classify
from herald.core import clock
from tests.conftest import SmtpRecorder, free_port, make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members


@dataclass
class RefusingRecorder(SmtpRecorder):
    """Answers ``421`` to every MAIL FROM while ``down``."""

    down: bool = True
    refused: int = 0

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        if self.down:
            self.refused += 1
            return "421 4.3.2 Service not available, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"


def test_a_421_or_a_refused_session_is_an_outage_but_a_greylisted_recipient_is_not():
    assert classify(421, b"closing", "MAIL FROM").outage
    assert classify(421, b"closing", "RCPT TO", "a@example.com").outage
    assert classify(451, b"local error", "MAIL FROM").outage
    greylisted = classify(451, b"4.7.1 Greylisted", "RCPT TO", "a@example.com")
    assert greylisted.status == "transient" and not greylisted.outage
    assert classify(554, b"no", "RCPT TO", "a@example.com").status == "permanent"


def test_an_smtp_outage_longer_than_the_retry_budget_gives_up_on_nobody(db, tmp_path, database_url):
    recorder = RefusingRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="50")
    seed_members(db, 120)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), settings.timezone)
        service.send_now(session, campaign)
    try:
        # ten passes past every back-off: twice the attempt ceiling of a failing message
        for _ in range(10):
            drain(db, settings)
            clock.shift(timedelta(minutes=11))
        with db.session() as session:
            statuses = dict(
                session.execute(
                    select(Delivery.status, func.count()).group_by(Delivery.status)
                ).all()
            )
            attempts = session.scalar(select(func.sum(Delivery.attempts)))
            assert session.get(Campaign, campaign.id).status == "sending"
        assert statuses == {"pending": 120}  # nobody given up, nobody sent
        # one message tried per batch and pass, not every member each time
        assert recorder.refused <= 3 * 10, recorder.refused
        assert attempts == recorder.refused
        recorder.down = False
        clock.shift(timedelta(minutes=11))
        drain(db, settings)
    finally:
        controller.stop()
        registry.close_all()
    received = recorder.by_recipient()
    assert len(received) == 120 and set(received.values()) == {1}
    with db.session() as session:
        stats = metrics.campaign_stats(session, session.get(Campaign, campaign.id))
    assert stats["total"]["sent"] == 120 and stats["total"]["failed"] == 0
    assert stats["status"] == "sent"
