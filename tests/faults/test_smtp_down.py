"""The SMTP server goes away in the middle of a send and comes back later: nothing is lost,
nothing is sent twice, and rows that could not be handed off wait for their retry."""

from __future__ import annotations

import threading
from datetime import timedelta

from aiosmtpd.controller import Controller
from sqlalchemy import func, select

from herald.campaigns import metrics, service
from herald.campaigns.models import Campaign, Delivery
from herald.channels import registry
from herald.core import clock
from tests.conftest import SmtpRecorder, free_port, make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members


class DyingRecorder(SmtpRecorder):
    """Accepts ``limit`` messages, then shuts its own server down."""

    limit = 40
    controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        answer = await super().handle_DATA(server, session, envelope)
        if len(self.messages) == self.limit and self.controller is not None:
            threading.Thread(target=self.controller.stop).start()
        return answer


def test_an_smtp_outage_mid_send_delays_but_loses_and_repeats_nothing(db, tmp_path, database_url):
    port = free_port()
    recorder = DyingRecorder()
    recorder.controller = Controller(recorder, hostname="127.0.0.1", port=port)
    recorder.controller.start()
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), smtp_timeout="2")
    seed_members(db, 100)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), settings.timezone)
        service.send_now(session, campaign)
    try:
        drain(db, settings)
        with db.session() as session:
            waiting = session.scalar(select(func.count()).where(Delivery.status == "pending"))
            tried = session.scalar(
                select(func.count()).where(Delivery.reason.like("waiting: SMTP connection lost%"))
            )
        assert len(recorder.messages) == 40
        assert waiting == 60
        assert 1 <= tried <= 2  # an outage: the batch stopped at its first failed hand-off
        with db.session() as session:
            assert session.get(Campaign, campaign.id).status == "sending"

        restarted = Controller(recorder, hostname="127.0.0.1", port=port)
        recorder.controller = None
        restarted.start()
        clock.shift(timedelta(minutes=15))  # past every back-off
        drain(db, settings)
        restarted.stop()
    finally:
        registry.close_all()
    received = recorder.by_recipient()
    assert len(received) == 100 and set(received.values()) == {1}
    with db.session() as session:
        stats = metrics.campaign_stats(session, session.get(Campaign, campaign.id))
    assert stats["total"]["sent"] == 100 and stats["total"]["failed"] == 0
    assert stats["status"] == "sent"
