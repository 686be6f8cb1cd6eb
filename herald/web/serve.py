"""Serving the web app with gunicorn, the production WSGI server, from ``herald web``.

Each gunicorn worker builds its own app (no preload): database pools and Redis clients must not
be shared across a fork.
"""

from __future__ import annotations

import os
from typing import Any

from gunicorn.app.base import BaseApplication

from herald.core.settings import Settings


def default_workers() -> int:
    """One worker process per core."""
    return max(1, os.cpu_count() or 1)


class HeraldServer(BaseApplication):  # type: ignore[misc]
    """A gunicorn application serving ``create_app(settings)``."""

    def __init__(self, settings: Settings, options: dict[str, Any]) -> None:
        self.settings = settings
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            if key in self.cfg.settings and value is not None:
                self.cfg.set(key, value)

    def load(self) -> Any:
        from herald.web.app import create_app

        return create_app(self.settings)


def serve(
    settings: Settings,
    host: str,
    port: int,
    workers: int | None = None,
    threads: int = 4,
    access_log: bool = False,
) -> None:
    """Run gunicorn in the foreground until SIGINT or SIGTERM."""
    options: dict[str, Any] = {
        "bind": f"{host}:{port}",
        "workers": workers or default_workers(),
        "threads": threads,
        # sync workers for one thread; gthread keeps connections alive for several
        "worker_class": "gthread" if threads > 1 else "sync",
        "accesslog": "-" if access_log else None,
        "errorlog": "-",
        "graceful_timeout": 10,
        "timeout": 60,
        "proc_name": "herald-web",
    }
    HeraldServer(settings, options).run()
