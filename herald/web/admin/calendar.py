"""The campaign calendar at ``/admin/calendar/``: a month of every scheduled send, each
occurrence of a recurring schedule and member days, promotions as bars over their days, with a
link to plan a campaign on a day."""

from __future__ import annotations

import calendar as months
from datetime import date, timedelta
from typing import Any

from flask import request
from flask_admin import BaseView, expose

from herald.campaigns import calendar
from herald.core import clock
from herald.web import deps
from herald.web.admin.auth import Protected, can_write


def _month(raw: str | None, today: date) -> date:
    try:
        year, month = (int(x) for x in (raw or "").split("-", 1))
        return date(year, month, 1)
    except ValueError:
        return today.replace(day=1)


class CalendarView(Protected, BaseView):
    """``/admin/calendar/?month=2026-11``"""

    @expose("/")
    def index(self) -> Any:
        zone = deps.settings().timezone
        today = clock.now().astimezone(zone).date()
        first = _month(request.args.get("month"), today)
        if not 1970 <= first.year <= 2999:
            first = today.replace(day=1)
        weeks = months.Calendar(firstweekday=0).monthdatescalendar(first.year, first.month)
        items = calendar.calendar(deps.session(), weeks[0][0], weeks[-1][-1], zone)
        by_day: dict[str, list[dict[str, Any]]] = {}
        spans: dict[str, list[dict[str, Any]]] = {}
        for item in items:
            if item["kind"] == "promotion":
                day = max(date.fromisoformat(item["first_day"]), weeks[0][0])
                last = min(date.fromisoformat(item["last_day"]), weeks[-1][-1])
                while day <= last:
                    spans.setdefault(day.isoformat(), []).append(item)
                    day += timedelta(days=1)
                continue
            by_day.setdefault(item["local"][:10], []).append(item)
        previous = (first - timedelta(days=1)).replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        return self.render(
            "admin/herald/calendar.html",
            weeks=weeks,
            first=first,
            today=today,
            by_day=by_day,
            spans=spans,
            zone=zone.key,
            previous=previous.strftime("%Y-%m"),
            following=following.strftime("%Y-%m"),
            can_plan=can_write(),
            count=sum(1 for item in items if item["kind"] != "promotion"),
        )
