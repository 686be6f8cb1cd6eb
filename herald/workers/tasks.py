"""Celery tasks: thin wrappers that open a session, call the domain, commit, enqueue after."""

from __future__ import annotations

import logging

from herald.audiences import importing, points, rfm, send_time
from herald.campaigns import coupons, dispatch, posts
from herald.core import clock
from herald.journeys import engine as journeys
from herald.reports.mail import send_weekly_once
from herald.workers import context
from herald.workers.celery_app import celery

log = logging.getLogger(__name__)

TICK_EXPIRES = 10  # seconds; a tick nobody picked up by then is dropped, the next one will do


@celery.task(name="herald.tick", ignore_result=True)
def tick() -> dict[str, int]:
    """Move journeys' due members on, start due runs, end A/B tests, and enqueue batches
    (also those the journeys just wrote) and those whose wake-up was lost."""
    journeys.tick(context.database(), context.settings())
    batch_ids = dispatch.tick(context.database(), context.settings())
    # enqueue after commit: the batch rows exist before any worker looks for them
    for batch_id in batch_ids:
        send_batch.delay(batch_id)
    return {"enqueued": len(batch_ids)}


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
    db = context.database()
    refreshed = posts.refresh_engagement(db, context.settings())
    with db.session() as session:
        redeemed = coupons.redeem_from_orders(session)
    return {"posts": refreshed, "coupons": redeemed}


@celery.task(name="herald.import_contacts", ignore_result=True, acks_late=True)
def import_contacts(job_id: int) -> dict[str, object]:
    """Run one CSV import job (see herald.audiences.importing.create_job); progress is kept on
    the ImportJob row so the admin can poll it."""
    job = importing.run_job(
        context.database(), job_id, region=context.settings().default_phone_region
    )
    return {"job_id": job_id, "status": job.status if job else "skipped"}


@celery.task(
    name="herald.weekly_report",
    ignore_result=True,
    # an SMTP server down or refusing (smtplib errors are OSErrors): the claim was released,
    # so a retry minutes later sends it
    autoretry_for=(OSError,),
    retry_backoff=60,
    retry_backoff_max=900,
    max_retries=5,
)
def weekly_report(week: str | None = None) -> dict[str, str]:
    """Build and email the weekly report for ``week`` (default: the week before this one); a
    week already sent is not sent again."""
    outcome = send_weekly_once(context.database(), context.settings(), week)
    return {"week": week or "previous", "outcome": outcome}


@celery.task(name="herald.recompute_best_hours", ignore_result=True)
def recompute_best_hours() -> dict[str, int]:
    """Recompute every member's best hour (set-based, in one transaction); the scheduler runs
    this every hour."""
    with context.database().session() as session:
        changed = send_time.recompute(session, context.settings().timezone, clock.now())
    return {"changed": changed}


@celery.task(name="herald.refresh_behaviour", ignore_result=True)
def refresh_behaviour() -> dict[str, int]:
    """Recompute every member's RFM scores, group and favourite category, and roll points
    expiry over to the next lot (daily, and when the scheduler starts)."""
    with context.database().session() as session:
        moved = points.roll_over(session)
        counts = rfm.recompute(session).to_dict()
        session.commit()
    log.info("behaviour refreshed: %s, points rolled over for %s", counts, moved)
    return {**counts, "rolled_over": moved}


@celery.task(name="herald.roll_over_points", ignore_result=True)
def roll_over_points() -> dict[str, int]:
    """Members whose nearest points lot has passed move on to their next one (hourly)."""
    with context.database().session() as session:
        moved = points.roll_over(session)
        session.commit()
    return {"rolled_over": moved}
