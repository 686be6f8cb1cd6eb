"""The weekly report in the admin: the same report the Monday email carries (one builder, one
metrics module), with its charts and the CSV to download."""

from __future__ import annotations

import base64
from typing import Any

from flask import Response, flash, request
from flask_admin import BaseView, expose

from herald.core.errors import ValidationError
from herald.reports import charts, present
from herald.reports.mail import render_html
from herald.reports.weekly import build_weekly_report, parse_week
from herald.web import deps
from herald.web.admin.auth import Protected


def _report(week_text: str | None) -> dict[str, Any]:
    week = parse_week(week_text, deps.settings().timezone)
    return build_weekly_report(deps.session(), week)


class ReportView(Protected, BaseView):
    """``/admin/reports/?week=2026-W47``: the report as the email shows it."""

    @expose("/")
    def index(self) -> Any:
        asked = request.args.get("week")
        try:
            report = _report(asked)
        except ValidationError as exc:
            flash(exc.message, "danger")
            report = _report(None)
        images = {
            name: "data:image/png;base64," + base64.b64encode(draw(report)).decode()
            for name, draw in (
                ("engagement", charts.engagement_chart),
                ("revenue", charts.revenue_chart),
            )
        }
        return self.render(
            "admin/herald/report.html", report=report, html=render_html(report, images)
        )

    @expose("/weekly.csv")
    def csv(self) -> Any:
        report = _report(request.args.get("week"))
        return Response(
            present.to_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="herald-{report["week"]}.csv"'},
        )
