"""The weekly report in the admin: the same report the Monday email carries (one builder, one
metrics module), with its charts and the CSV to download."""

from __future__ import annotations

from typing import Any

from flask import Response, abort, flash, request
from flask_admin import BaseView, expose

from herald.core import clock
from herald.core.errors import ValidationError
from herald.reports import present
from herald.reports.mail import render_html
from herald.reports.pdf import PdfUnavailable, filename, render_pdf, report_images
from herald.reports.weekly import build_weekly_report, parse_week, week_of
from herald.web import deps
from herald.web.admin.auth import Protected


def _report(week_text: str | None) -> dict[str, Any]:
    week = parse_week(week_text, deps.settings().timezone)
    return build_weekly_report(deps.session(), week)


def _opening_report() -> tuple[dict[str, Any], str | None]:
    """The last full week, or the current week to date when nothing ran in the last one (a new
    shop, or the first week after a quiet one), with a note saying which."""
    last = _report(None)
    if last["campaigns"]:
        return last, None
    current = build_weekly_report(deps.session(), week_of(clock.now(), deps.settings().timezone))
    if not current["campaigns"]:
        return last, None
    return current, f"Nothing ran in {last['week']}, so this is {current['week']} to date."


class ReportView(Protected, BaseView):
    """``/admin/reports/?week=2026-W47``: the report as the email shows it."""

    @expose("/")
    def index(self) -> Any:
        asked = request.args.get("week")
        note = None
        try:
            report, note = _opening_report() if not asked else (_report(asked), None)
        except ValidationError as exc:
            flash(exc.message, "danger")
            report, note = _opening_report()
        images = report_images(report)
        return self.render(
            "admin/herald/report.html",
            report=report,
            html=render_html(report, images),
            note=note,
        )

    @expose("/weekly.pdf")
    def pdf(self) -> Any:
        """The report as a PDF; a malformed ``week`` is a 400 saying what a week looks like."""
        try:
            report = _report(request.args.get("week"))
        except ValidationError as exc:
            abort(400, description=exc.message)
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
        """The report as CSV; a malformed ``week`` is a 400 saying what a week looks like."""
        try:
            report = _report(request.args.get("week"))
        except ValidationError as exc:
            abort(400, description=exc.message)
        return Response(
            present.to_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="herald-{report["week"]}.csv"'},
        )
