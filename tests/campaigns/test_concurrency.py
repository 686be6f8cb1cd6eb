"""Two schedulers and many workers never do the same work twice: due campaigns, batches and
ledger rows are claimed atomically."""

from __future__ import annotations

import threading

from sqlalchemy import func, select

from herald.campaigns import dispatch, service
from herald.campaigns.models import Delivery, Run
from herald.channels import registry
from tests.conftest import make_settings
from tests.helpers import email_campaign
from tests.workers.support import seed_members


def _together(n: int, fn) -> list:  # type: ignore[no-untyped-def]
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def work(i: int) -> None:
        barrier.wait()
        results[i] = fn()

    threads = [threading.Thread(target=work, args=(i,)) for i in range(n)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def test_concurrent_ticks_start_a_due_campaign_once(db, tmp_path, database_url, smtp_server):
    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="10")
    seed_members(db, 40)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), settings.timezone)
        service.send_now(session, campaign)
    results = _together(4, lambda: dispatch.tick(db, settings))
    assert sorted(len(r) for r in results)[-1] == 4  # one tick planned the 4 batches
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(Run)) == 1
        assert session.scalar(select(func.count()).select_from(Delivery)) == 40


def test_workers_racing_for_the_same_batches_send_each_message_once(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="25")
    seed_members(db, 100)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), settings.timezone)
        service.send_now(session, campaign)
    batch_ids = dispatch.tick(db, settings)

    def worker() -> int:
        # every worker gets every batch, as if the broker delivered each task four times
        sent = 0
        for batch_id in batch_ids:
            sent += dispatch.send_batch(db, settings, batch_id, channel_for=_own_channel).sent
        return sent

    results = _together(4, worker)
    assert sum(results) == 100
    assert len(recorder.messages) == 100 and set(recorder.by_recipient().values()) == {1}


def _own_channel(kind, settings):  # type: ignore[no-untyped-def]
    """A channel instance per thread (each worker process has its own connections)."""
    local = _threads.__dict__.setdefault("channels", {})
    if kind not in local:
        local[kind] = registry.channel_class(kind)(settings)
    return local[kind]


_threads = threading.local()
