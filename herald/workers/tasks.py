"""Celery tasks: thin wrappers that open a session, call the domain, commit, enqueue after."""

from __future__ import annotations

import logging

from herald.campaigns import dispatch
from herald.workers import context
from herald.workers.celery_app import celery

log = logging.getLogger(__name__)

TICK_EXPIRES = 10  # seconds; a tick nobody picked up by then is dropped, the next one will do


@celery.task(name="herald.tick", ignore_result=True)
def tick() -> dict[str, int]:
    """Start due runs and re-enqueue batches whose wake-up was lost."""
    db = context.database()
    settings = context.settings()
    with db.session() as session:
        started = dispatch.start_due_runs(session, settings)
    with db.session() as session:
        again = dispatch.batches_to_enqueue(session, requeue_after=settings.requeue_after)
    # enqueue after commit: the batch rows exist before any worker looks for them
    for batch_id in dict.fromkeys(started + again):
        send_batch.delay(batch_id)
    return {"started": len(started), "requeued": len(again)}


@celery.task(name="herald.send_batch", ignore_result=True, acks_late=True)
def send_batch(batch_id: int) -> dict[str, object]:
    """Send one batch; a duplicate or late task finds nothing left to claim."""
    report = dispatch.send_batch(context.database(), context.settings(), batch_id)
    if report.claimed:
        log.info(
            "batch %s: sent %s failed %s skipped %s retried %s recovered %s%s",
            batch_id,
            report.sent,
            report.failed,
            report.skipped,
            report.retried,
            report.recovered,
            f" ({report.stopped})" if report.stopped else "",
        )
    return {"claimed": report.claimed, "sent": report.sent}


@celery.task(name="herald.refresh_social_engagement", ignore_result=True)
def refresh_social_engagement() -> dict[str, int]:
    """Read back favourites, reblogs and replies of recent social posts, and mark coupons
    redeemed by stored orders (both feed campaign stats; the scheduler runs this every few
    minutes)."""
    from herald.campaigns import coupons, posts

    db = context.database()
    refreshed = posts.refresh_engagement(db, context.settings())
    with db.session() as session:
        redeemed = coupons.redeem_from_orders(session)
    return {"posts": refreshed, "coupons": redeemed}
