"""``/admin/send-time/``: "When does my audience open?", human opens and clicks of the last 90
days by weekday and hour on each member's own wall clock, for all members or one segment,
drawn as a shaded table (no script)."""

from __future__ import annotations

from typing import Any

from flask import request
from flask_admin import BaseView, expose
from sqlalchemy import select

from herald.audiences import segments, send_time
from herald.audiences.models import Segment
from herald.core import clock
from herald.web import deps
from herald.web.admin.auth import Protected

WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")


def shade(count: int, most: int) -> int:
    """A cell's shade from 0 (none) to 100 (the busiest cell), for the page's CSS."""
    return 0 if most <= 0 or count <= 0 else max(8, round(100 * count / most))


class SendTimeView(Protected, BaseView):
    """``/admin/send-time/?segment=3``"""

    @expose("/")
    def index(self) -> Any:
        session = deps.session()
        zone = deps.settings().timezone
        choices = session.execute(select(Segment.id, Segment.name).order_by(Segment.name)).all()
        chosen = request.args.get("segment", type=int)
        segment = session.get(Segment, chosen) if chosen else None
        members = segments.members(segment.rules, zone=zone) if segment is not None else None
        grid = send_time.heat_map(session, zone, clock.now(), members)
        most = max(max(row) for row in grid)
        busiest = [
            (WEEKDAYS[day], hour, count)
            for day, row in enumerate(grid)
            for hour, count in enumerate(row)
            if count == most and most > 0
        ]
        return self.render(
            "admin/herald/send_time.html",
            rows=[
                (WEEKDAYS[day], [(count, shade(count, most)) for count in row])
                for day, row in enumerate(grid)
            ],
            total=sum(map(sum, grid)),
            busiest=busiest[:3],
            choices=choices,
            segment=segment,
            window=send_time.WINDOW_DAYS,
        )
