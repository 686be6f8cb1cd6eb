"""The one place Herald reads the time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

_offset = timedelta(0)


def now() -> datetime:
    """The current time, timezone-aware in UTC."""
    return datetime.now(UTC) + _offset


def shift(delta: timedelta) -> None:
    """Move the clock by ``delta`` for this process (tests only)."""
    global _offset
    _offset += delta


def reset() -> None:
    """Undo every :func:`shift`."""
    global _offset
    _offset = timedelta(0)
