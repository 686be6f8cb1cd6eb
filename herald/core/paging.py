"""Cursor paging for lists, newest first (contract section 12): ``limit`` up to 500 and an
opaque cursor naming where the previous page stopped."""

from __future__ import annotations

import base64
import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Select
from sqlalchemy.orm import Session

from herald.core.errors import ValidationError

MAX_LIMIT = 500
DEFAULT_LIMIT = 50


def parse_limit(raw: Any) -> int:
    """``?limit=``: a whole number from 1 to 500 (50 when absent)."""
    if raw is None or raw == "":
        return DEFAULT_LIMIT
    try:
        limit = int(raw)
    except (TypeError, ValueError):
        limit = 0
    if not 1 <= limit <= MAX_LIMIT:
        raise ValidationError(
            f"limit must be a whole number from 1 to {MAX_LIMIT}", {"limit": f"1 to {MAX_LIMIT}"}
        )
    return limit


def make_cursor(last_id: int) -> str:
    """The cursor for the page after the row ``last_id``."""
    raw = json.dumps({"before": last_id}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def read_cursor(raw: Any) -> int | None:
    """The id a cursor names (``None`` for the first page); a forged one is a 422."""
    if raw is None or raw == "":
        return None
    try:
        text = str(raw)
        data = json.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        before = data["before"]
        if not isinstance(before, int) or isinstance(before, bool) or before < 1:
            raise ValueError
        return before
    except (ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise ValidationError(
            "cursor is not one this list gave out", {"cursor": "not a cursor"}
        ) from None


def page(
    session: Session, query: Select[Any], id_column: Any, limit: Any, cursor: Any
) -> tuple[Sequence[Any], str | None]:
    """One page of ``query`` (rows of one model), newest (highest id) first, and the cursor for
    the next page or ``None`` at the end."""
    size = parse_limit(limit)
    before = read_cursor(cursor)
    if before is not None:
        query = query.where(id_column < before)
    rows = list(session.scalars(query.order_by(id_column.desc()).limit(size + 1)))
    more = len(rows) > size
    rows = rows[:size]
    return rows, make_cursor(rows[-1].id) if more and rows else None
