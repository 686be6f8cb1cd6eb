"""The send path under stress without any crash: a slow provider, a stale worker, a channel that
raises, two workers finishing the last batches at once."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

from sqlalchemy import func, select, update

from herald.campaigns import dispatch, service
from herald.campaigns.models import Batch, Campaign, Delivery, Run
from herald.campaigns.sending import write_held
from herald.channels import registry
from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members


class SlowChannel:
    """The real email channel, but each hand-off takes a while (a slow provider)."""

    def __init__(self, settings, delay: float, fail_for: str | None = None):  # type: ignore[no-untyped-def]
        self.inner = registry.channel_class("email")(settings)
        self.delay = delay
        self.fail_for = fail_for

    def __getattr__(self, name):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def send(self, message):  # type: ignore[no-untyped-def]
        if self.fail_for and message.recipient == self.fail_for:
            raise RuntimeError("provider client bug")
        time.sleep(self.delay)
        return self.inner.send(message)


def _campaign(db, settings, members: int) -> int:  # type: ignore[no-untyped-def]
    seed_members(db, members)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), settings.timezone)
        service.send_now(session, campaign)
        return campaign.id


def test_a_slow_provider_does_not_let_the_lease_lapse_under_a_live_worker(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(
        tmp_path, database_url, smtp_port=str(port), batch_lease="1s", flush_every="20"
    )
    _campaign(db, settings, 10)
    (batch_id,) = dispatch.tick(db, settings)
    slow = SlowChannel(settings, 0.25)
    first = threading.Thread(
        target=dispatch.send_batch,
        args=(db, settings, batch_id),
        kwargs={"channel_for": lambda k, s: slow},
    )
    first.start()
    time.sleep(1.6)  # longer than the lease: a second worker tries to take the batch
    second = dispatch.send_batch(db, settings, batch_id, channel_for=lambda k, s: SlowChannel(s, 0))
    first.join(30)
    assert not second.claimed
    assert len(recorder.messages) == 10 and set(recorder.by_recipient().values()) == {1}


def test_a_stale_worker_cannot_overwrite_rows_it_no_longer_holds(db, tmp_path, database_url):
    settings = make_settings(tmp_path, database_url)
    _campaign(db, settings, 3)
    dispatch.tick(db, settings)
    stamp = clock.now()
    with db.session() as session:
        ids = list(session.scalars(select(Delivery.id).order_by(Delivery.id)))
        session.execute(
            update(Delivery).where(Delivery.id == ids[0]).values(status="sent", claimed_at=stamp)
        )
        session.execute(
            update(Delivery)
            .where(Delivery.id == ids[1])
            .values(status="sending", claimed_at=stamp + timedelta(seconds=5))
        )
        session.execute(
            update(Delivery).where(Delivery.id == ids[2]).values(status="sending", claimed_at=stamp)
        )
    with db.session() as session:
        write_held(
            session, [{"id": i, "status": "failed", "reason": "late news"} for i in ids], stamp
        )
    with db.session() as session:
        statuses = [session.get(Delivery, i).status for i in ids]
    # sent by someone: kept; claimed by another worker: kept; still ours: closed
    assert statuses == ["sent", "sending", "failed"]


def test_a_channel_that_raises_fails_one_row_softly_and_records_the_others(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    campaign_id = _campaign(db, settings, 5)
    (batch_id,) = dispatch.tick(db, settings)
    flaky = SlowChannel(settings, 0, fail_for="m00002@example.com")
    report = dispatch.send_batch(db, settings, batch_id, channel_for=lambda k, s: flaky)
    assert report.sent == 4 and report.retried == 1
    with db.session() as session:
        row = session.scalars(select(Delivery).where(Delivery.status == "pending")).one()
    assert row.reason.startswith("retrying: unexpected error: RuntimeError")
    for _ in range(5):  # every retry raises too: the ceiling ends it
        clock.shift(timedelta(minutes=20))
        with db.session() as session:
            ids = dispatch.batches_to_enqueue(session)
        for batch in ids:
            dispatch.send_batch(db, settings, batch, channel_for=lambda k, s: flaky)
    with db.session() as session:
        failed = session.scalars(select(Delivery).where(Delivery.status == "failed")).one()
        assert failed.reason.startswith("gave up after 5 attempts")
        assert session.get(Campaign, campaign_id).status == "sent"
    assert len(recorder.messages) == 4


def test_the_tick_closes_a_run_whose_batches_all_finished(db, tmp_path, database_url, smtp_server):
    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    campaign_id = _campaign(db, settings, 4)
    drain(db, settings)
    with db.session() as session:  # what a lost race between two finishing workers leaves
        session.execute(update(Run).values(status="sending", finished_at=None))
        session.execute(update(Campaign).values(status="sending"))
        assert session.scalar(select(func.count()).where(Batch.status != "done")) == 0
    dispatch.tick(db, settings)
    with db.session() as session:
        assert session.scalars(select(Run.status)).one() == "sent"
        assert session.get(Campaign, campaign_id).status == "sent"


def test_rows_that_used_every_attempt_are_not_recovered_again(db, tmp_path, database_url):
    settings = make_settings(tmp_path, database_url, batch_lease="1s")
    _campaign(db, settings, 2)
    (batch_id,) = dispatch.tick(db, settings)
    with db.session() as session:
        assert dispatch.claim_batch(session, batch_id, clock.now(), settings.batch_lease)
        session.execute(update(Delivery).values(status="sending", attempts=dispatch.MAX_ATTEMPTS))
    clock.shift(timedelta(seconds=5))
    report = dispatch.send_batch(db, settings, batch_id, channel_for=lambda k, s: SlowChannel(s, 0))
    assert report.recovered == 2 and report.sent == 0
    with db.session() as session:
        assert set(session.scalars(select(Delivery.status))) == {"failed"}
