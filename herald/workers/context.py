"""Per-process settings and database, created lazily (after a prefork worker forks)."""

from __future__ import annotations

import os

from herald.core.db import Database
from herald.core.settings import Settings

_state: dict[str, object] = {}


def settings() -> Settings:
    """This process's settings, read once."""
    if "settings" not in _state:
        _state["settings"] = Settings.from_env()
    return _state["settings"]  # type: ignore[return-value]


def database() -> Database:
    """This process's database; a forked child makes its own engine."""
    pid = os.getpid()
    if _state.get("pid") != pid or "db" not in _state:
        _state["db"] = Database(settings().database_url)
        _state["pid"] = pid
    return _state["db"]  # type: ignore[return-value]


def reset(new_settings: Settings | None = None) -> None:
    """Forget cached state (tests)."""
    db = _state.get("db")
    if isinstance(db, Database):
        db.dispose()
    _state.clear()
    if new_settings is not None:
        _state["settings"] = new_settings
