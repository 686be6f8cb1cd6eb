"""The weekly report as a PDF: the same HTML the email and the admin show (charts inline as data
URLs), laid out by WeasyPrint. WeasyPrint needs Pango from the operating system
(``apt-get install libpango-1.0-0 libpangoft2-1.0-0``; scripts/ensure-services.sh installs it)."""

from __future__ import annotations

import base64
from typing import Any

from herald.reports import charts
from herald.reports.mail import render_html


class PdfUnavailable(RuntimeError):
    """WeasyPrint or the Pango library it needs is missing on this machine."""


def report_images(report: dict[str, Any]) -> dict[str, str]:
    """The report's charts as data URLs."""
    return {
        name: "data:image/png;base64," + base64.b64encode(draw(report)).decode()
        for name, draw in (
            ("engagement", charts.engagement_chart),
            ("revenue", charts.revenue_chart),
        )
    }


def render_pdf(report: dict[str, Any]) -> bytes:
    """The report as PDF bytes; :class:`PdfUnavailable` with the fix when Pango is missing."""
    try:
        from weasyprint import HTML
    except (ImportError, OSError) as exc:  # OSError: WeasyPrint could not load Pango
        raise PdfUnavailable(
            "PDF reports need WeasyPrint and the Pango library "
            "(apt-get install libpango-1.0-0 libpangoft2-1.0-0): " + str(exc).splitlines()[0]
        ) from exc
    return HTML(string=render_html(report, report_images(report))).write_pdf()


def filename(report: dict[str, Any], extension: str) -> str:
    """``herald-2026-W47.pdf``."""
    return f"herald-{report['week']}.{extension}"
