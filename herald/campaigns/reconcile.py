"""The scheduler's tick: start due runs, end A/B tests whose window closed, find batches whose
wake-up was lost and close runs whose batches are all done. The database holds what is due; the
broker only carries wake-ups, so anything lost there is found again here."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from herald.campaigns.ab_decide import decide_due_tests
from herald.campaigns.closing import close_finished_runs
from herald.campaigns.models import Batch, Campaign, Run
from herald.campaigns.planning import start_due_runs
from herald.core import clock
from herald.core.db import Database
from herald.core.settings import Settings

REQUEUE_AFTER = timedelta(seconds=60)


def tick(db: Database, settings: Settings, now: datetime | None = None) -> list[int]:
    """One scheduler tick's worth of work, each step in its own transaction: start due runs,
    end A/B tests whose window closed, and find batches whose wake-up was lost. Returns the batch
    ids to enqueue (after commit, which has happened when this returns)."""
    now = now or clock.now()
    with db.session() as session:
        ids = start_due_runs(session, settings, now)
    with db.session() as session:
        ids += decide_due_tests(session, settings, now)
    with db.session() as session:
        ids += batches_to_enqueue(session, now, requeue_after=settings.requeue_after)
    with db.session() as session:
        close_finished_runs(session, settings, now)
    return list(dict.fromkeys(ids))


def batches_to_enqueue(
    session: Session, now: datetime | None = None, requeue_after: timedelta = REQUEUE_AFTER
) -> list[int]:
    """Batches whose wake-up may have been lost (broker restart, dead worker, a retry now due):
    marks them enqueued and returns their ids, to be enqueued after commit."""
    now = now or clock.now()
    stale = now - requeue_after
    never_or_stale = or_(Batch.enqueued_at.is_(None), Batch.enqueued_at <= stale)
    ready = and_(
        Batch.status == "queued",
        or_(Batch.lease_until.is_(None), Batch.lease_until <= now),
        never_or_stale,
    )
    abandoned = and_(
        Batch.status == "running",
        Batch.lease_until <= now,
        or_(never_or_stale, Batch.enqueued_at < Batch.lease_until),
    )
    ids = list(
        session.scalars(
            select(Batch.id)
            .join(Run, Run.id == Batch.run_id)
            .join(Campaign, Campaign.id == Run.campaign_id)
            .where(Campaign.status != "paused", or_(ready, abandoned))
            .order_by(Batch.id)
            .limit(2000)
        )
    )
    if ids:
        session.execute(update(Batch).where(Batch.id.in_(ids)).values(enqueued_at=now))
    return ids
