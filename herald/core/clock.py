"""The one place Herald reads the time, so tests can move it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

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


def member_zone(name: str | None, default: ZoneInfo) -> ZoneInfo:
    """A member's zone; a missing or unknown name falls back to the service zone."""
    if not name:
        return default
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        return default
