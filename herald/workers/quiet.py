"""Keep routine chatter out of the operator's log: the tick runs every second, and a line for
each one (Celery's "received" and "succeeded", APScheduler's "Running job") buries what matters,
such as the demo password or a failing batch. Those lines stay available at DEBUG."""

from __future__ import annotations

import logging

QUIET_TASKS = frozenset({"herald.tick", "herald.refresh_social_engagement"})
CELERY_LOGGERS = ("celery.worker.strategy", "celery.app.trace")
SCHEDULER_LOGGERS = ("apscheduler.executors.default", "apscheduler.scheduler")


class RoutineTaskFilter(logging.Filter):
    """Drop INFO records about the routine tasks; anything else, and any warning, passes."""

    def filter(self, record: logging.LogRecord) -> bool:
        if record.levelno > logging.INFO:
            return True
        args = record.args
        name = args.get("name") if isinstance(args, dict) else None
        if name is None:
            message = record.getMessage()
            return not any(f"{task}[" in message for task in QUIET_TASKS)
        return name not in QUIET_TASKS


def quiet_worker_logs() -> None:
    """Install the filter on the Celery loggers that announce each task."""
    for name in CELERY_LOGGERS:
        logger = logging.getLogger(name)
        if not any(isinstance(f, RoutineTaskFilter) for f in logger.filters):
            logger.addFilter(RoutineTaskFilter())


def quiet_scheduler_logs() -> None:
    """APScheduler logs every job run at INFO; keep its warnings (missed runs) only."""
    for name in SCHEDULER_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
