"""The weekly report in the admin: the same report the Monday email carries (one builder, one
metrics module), with its charts and the CSV to download."""

from __future__ import annotations

from typing import Any

from flask import Response, flash, request
from flask_admin import BaseView, expose

from herald.core.errors import ValidationError
from herald.reports import present
from herald.reports.mail import render_html
from herald.reports.pdf import PdfUnavailable, filename, render_pdf, report_images
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
        images = report_images(report)
        return self.render(
            "admin/herald/report.html", report=report, html=render_html(report, images)
        )

    @expose("/weekly.pdf")
    def pdf(self) -> Any:
        report = _report(request.args.get("week"))
        try:
            body = render_pdf(report)
        except PdfUnavailable as exc:
            return Response(str(exc) + "\n", status=503, mimetype="text/plain")
        return Response(
            body,
            mimetype="application/pdf",
            headers={"Content-Disposition": f'attachment; filename="{filename(report, "pdf")}"'},
        )

    @expose("/weekly.csv")
    def csv(self) -> Any:
        report = _report(request.args.get("week"))
        return Response(
            present.to_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="herald-{report["week"]}.csv"'},
        )
