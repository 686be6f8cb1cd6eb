"""``herald scheduler``: an APScheduler process whose jobs only enqueue Celery tasks.

Its job store is in memory and private to this process (job stores must not be shared between
schedulers); what is due lives in the database, so two schedulers only cost a duplicate tick,
which the atomic claims make harmless.
"""

from __future__ import annotations

import contextlib
import logging
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from apscheduler.schedulers.blocking import BlockingScheduler

from herald.core.settings import Settings

log = logging.getLogger(__name__)

STATS_EVERY_SECONDS = 300  # social engagement and coupon redemptions are read every 5 minutes
BEST_HOURS_EVERY_SECONDS = 3600  # a member's best hour moves slowly: hourly is plenty


def build_scheduler(settings: Settings) -> BlockingScheduler:
    """The scheduler with its jobs: the tick every ``HERALD_TICK_SECONDS``."""
    from herald.workers.tasks import TICK_EXPIRES, tick

    scheduler = BlockingScheduler(timezone=settings.timezone)

    def enqueue_tick() -> None:
        try:
            tick.apply_async(expires=TICK_EXPIRES)
        except Exception as exc:
            # a broker outage must not kill the scheduler; the next tick tries again
            log.warning("could not enqueue tick: %s", exc)

    scheduler.add_job(
        enqueue_tick,
        "interval",
        seconds=settings.tick_seconds,
        id="tick",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=5,
    )

    def enqueue_channel_stats() -> None:
        from herald.workers.tasks import refresh_social_engagement

        try:
            refresh_social_engagement.apply_async(expires=STATS_EVERY_SECONDS)
        except Exception as exc:
            log.warning("could not enqueue social engagement refresh: %s", exc)

    scheduler.add_job(
        enqueue_channel_stats,
        "interval",
        seconds=STATS_EVERY_SECONDS,
        id="channel-stats",
        max_instances=1,
        coalesce=True,
    )
    scheduler.add_job(
        enqueue_best_hours,
        "interval",
        seconds=BEST_HOURS_EVERY_SECONDS,
        id="best-hours",
        max_instances=1,
        coalesce=True,
        next_run_time=datetime.now(UTC),  # once at start too, then hourly
    )
    scheduler.add_job(
        enqueue_weekly_report,
        "cron",
        args=[settings.timezone],
        day_of_week="mon",
        hour=9,
        minute=0,
        timezone=settings.timezone,
        id="weekly-report",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
    )
    add_behaviour_jobs(scheduler, settings)
    return scheduler


def enqueue_best_hours() -> None:
    """Ask a worker to recompute every member's best hour (herald.audiences.send_time)."""
    from herald.workers.tasks import recompute_best_hours

    try:
        recompute_best_hours.apply_async(expires=BEST_HOURS_EVERY_SECONDS)
    except Exception as exc:
        log.warning("could not enqueue the best-hour recompute: %s", exc)


def add_behaviour_jobs(scheduler: BlockingScheduler, settings: Settings) -> None:
    """RFM, favourite categories and points roll-over daily at 03:00 (and once at start, so a
    fresh install has scores); points roll-over alone every hour."""
    from herald.workers.tasks import refresh_behaviour, roll_over_points

    def enqueue(task: object, expires: int) -> None:
        try:
            task.apply_async(expires=expires)  # type: ignore[attr-defined]
        except Exception as exc:
            log.warning("could not enqueue %s: %s", getattr(task, "name", task), exc)

    scheduler.add_job(
        enqueue,
        "cron",
        args=[refresh_behaviour, 3600],
        hour=3,
        minute=0,
        timezone=settings.timezone,
        id="behaviour",
        max_instances=1,
        coalesce=True,
        misfire_grace_time=3600,
        next_run_time=datetime.now(settings.timezone),
    )
    scheduler.add_job(
        enqueue,
        "interval",
        args=[roll_over_points, 3600],
        hours=1,
        id="points-roll-over",
        max_instances=1,
        coalesce=True,
    )


def enqueue_weekly_report(zone: ZoneInfo) -> None:
    """Monday 09:00: ask a worker for last week's report, naming the week now so a late worker
    still reports the right one (the task sends each week once)."""
    from herald.reports.weekly import parse_week
    from herald.workers.tasks import weekly_report

    try:
        weekly_report.apply_async(args=[parse_week(None, zone).label], expires=3600)
    except Exception as exc:
        log.warning("could not enqueue the weekly report: %s", exc)


def run(settings: Settings) -> None:
    """Run the scheduler until interrupted."""
    from herald.workers.quiet import quiet_scheduler_logs

    quiet_scheduler_logs()
    scheduler = build_scheduler(settings)
    log.info("scheduler ticking every %ss", settings.tick_seconds)
    with contextlib.suppress(KeyboardInterrupt, SystemExit):
        scheduler.start()
