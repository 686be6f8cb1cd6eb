"""The Celery application. The broker carries wake-ups only; progress lives in the database."""

from __future__ import annotations

from celery import Celery

from herald.core.settings import Settings
from herald.workers.quiet import quiet_worker_logs


def make_celery(settings: Settings | None = None) -> Celery:
    """Build the Celery app for ``settings`` (the environment's by default)."""
    settings = settings or Settings.from_env()
    app = Celery("herald", broker=settings.broker_url, include=["herald.workers.tasks"])
    transport_options: dict[str, object] = {}
    if settings.broker_url.startswith("filesystem://"):
        folder = settings.broker_url.removeprefix("filesystem://")
        from pathlib import Path

        for sub in ("queue", "processed"):
            (Path(folder) / sub).mkdir(parents=True, exist_ok=True)
        transport_options = {
            "data_folder_in": f"{folder}/queue",
            "data_folder_out": f"{folder}/queue",
            "processed_folder": f"{folder}/processed",
            "store_processed": False,
        }
        app.conf.broker_url = "filesystem://"
    elif settings.broker_visibility_timeout is not None:
        # the Redis broker hands a taken, unacknowledged message out again after this long; its
        # sweep for such messages runs every 100 s by default, so it is fitted to the timeout
        seconds = settings.broker_visibility_timeout.total_seconds()
        transport_options = {
            "visibility_timeout": seconds,
            "unacked_restore_interval": max(1, int(seconds // 4)),
            "unacked_restore_throttle": 1,
        }
    app.conf.update(
        broker_transport_options=transport_options,
        broker_connection_retry_on_startup=True,
        task_ignore_result=True,
        result_backend=None,
        task_acks_late=True,
        task_reject_on_worker_lost=True,
        worker_prefetch_multiplier=1,
        task_serializer="json",
        accept_content=["json"],
        timezone="UTC",
        worker_hijack_root_logger=False,
        task_default_queue=settings.queue,
    )
    return app


celery = make_celery()
quiet_worker_logs()
