"""The ``countdown`` filter: how long until a moment, in words a flash-sale email can show
("2 days 4 hours", "3 hours 5 minutes", "ended").

``{{ promotion.ends_at | countdown }}`` counts from the template's ``now`` (the send time);
``{{ promotion.ends_at | countdown(now) }}`` names it. The two largest units are shown, counted
down to whole minutes (a message read a little later never promises more time than is left).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from jinja2 import Undefined, pass_context
from jinja2.runtime import Context

ENDED = "ended"
UNITS = (("day", 86_400), ("hour", 3_600), ("minute", 60))


def as_moment(value: Any) -> datetime | None:
    """A datetime from a datetime or ISO 8601 text (naive means UTC); None otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def words(seconds: float) -> str:
    """``seconds`` left in words: the two largest non-zero units, or "ended" at zero or less
    ("less than a minute" for under a minute still to go)."""
    if seconds <= 0:
        return ENDED
    left = int(seconds)
    parts: list[str] = []
    for name, size in UNITS:
        count, left = divmod(left, size)
        if count and len(parts) < 2:
            parts.append(f"{count} {name}{'' if count == 1 else 's'}")
        elif parts:
            break  # "2 days 5 minutes" skips the hours between: show "2 days" alone
    return " ".join(parts) if parts else "less than a minute"


def countdown(end: Any, now: Any) -> str:
    """The time from ``now`` until ``end`` in words; empty text when either is missing."""
    end_at, now_at = as_moment(end), as_moment(now)
    if end_at is None or now_at is None:
        return ""
    return words((end_at - now_at).total_seconds())


@pass_context
def countdown_filter(context: Context, end: Any, now: Any = None) -> str:
    """The Jinja filter: ``now`` defaults to the template's own ``now``."""
    if now is None or isinstance(now, Undefined):
        now = context.get("now")
    if isinstance(end, Undefined):
        return ""
    return countdown(end, now)
