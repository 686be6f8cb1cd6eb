"""The weekly report as JSON (contract section 11)."""

from __future__ import annotations

from typing import Any

from flask import Response, request

from herald.core.errors import ValidationError
from herald.reports import present
from herald.reports.pdf import PdfUnavailable, filename, render_pdf
from herald.reports.weekly import build_weekly_report, parse_week
from herald.web import deps
from herald.web.api import error_response, operation
from herald.web.api.schemas import METRICS

WEEK = [
    {
        "name": "week",
        "in": "query",
        "required": False,
        "description": "ISO week like 2026-W47; the week before the current one by default",
        "schema": {"type": "string", "pattern": r"^\d{4}-W\d{2}$"},
    },
    {
        "name": "format",
        "in": "query",
        "required": False,
        "description": "json (default), csv or pdf",
        "schema": {"type": "string", "enum": ["json", "csv", "pdf"]},
    },
]
CSV = {"type": "string", "description": "the report as CSV, one row per campaign"}
PDF = {"type": "string", "format": "binary", "description": "the report as a PDF"}
CHANGE = {"type": ["object", "null"], "additionalProperties": {"type": "object"}}
WEEKLY_REPORT = {
    "type": "object",
    "properties": {
        "week": {"type": "string"},
        "from": {"type": "string", "format": "date-time"},
        "to": {"type": "string", "format": "date-time"},
        "timezone": {"type": "string"},
        "previous_week": {"type": "string"},
        "totals": METRICS,
        "previous_totals": METRICS,
        "totals_change": CHANGE,
        "campaigns": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "kind": {"type": "string", "enum": ["campaign", "trigger"]},
                    "channel": {"type": "string"},
                    "runs": {"type": "integer"},
                    "metrics": METRICS,
                    "change": CHANGE,
                },
            },
        },
        "ab_tests": {"type": "array", "items": {"type": "object"}},
        "journeys": {
            "type": "array",
            "description": "journeys (not the triggers') active or busy in the week; numbers are "
            "for the members who entered that week",
            "items": {
                "type": "object",
                "properties": {
                    "id": {"type": "integer"},
                    "name": {"type": "string"},
                    "status": {"type": "string"},
                    "entered": {"type": "integer"},
                    "active": {"type": "integer"},
                    "completed": {"type": "integer"},
                    "exited": {"type": "integer"},
                    "conversions": {"type": "integer"},
                    "revenue": {"type": "number"},
                    "conversion_rate": {"type": "number"},
                    "entrants": {"type": "object"},
                    "holdout": {"type": "object"},
                    "lift": {
                        "type": "object",
                        "properties": {
                            "conversion_rate": {"type": "number"},
                            "ci": {"type": "array", "items": {"type": "number"}},
                        },
                    },
                    "messages": METRICS,
                },
            },
        },
        "top_links": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "url": {"type": "string"},
                    "clicks": {"type": "integer"},
                    "unique_clickers": {"type": "integer"},
                },
            },
        },
    },
    "required": ["week", "from", "to", "totals", "previous_totals", "campaigns"],
}


@operation(
    "GET",
    "/reports/weekly",
    "The weekly report: per campaign and trigger metrics with changes, A/B outcomes, top links",
    response_schema=WEEKLY_REPORT,
    parameters=WEEK,
    media={"text/csv": CSV, "application/pdf": PDF},
)
def weekly_report() -> Any:
    settings = deps.settings()
    week = parse_week(request.args.get("week"), settings.timezone)
    report = build_weekly_report(deps.session(), week)
    wanted = (request.args.get("format") or "json").lower()
    if wanted == "pdf":
        return _pdf(report)
    if wanted == "csv":
        return Response(
            present.to_csv(report),
            mimetype="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{filename(report, "csv")}"'},
        )
    if wanted != "json":
        message = f"{wanted!r} is not one of json, csv, pdf"
        raise ValidationError(f"format: {message}", {"format": message})
    return report


@operation(
    "GET",
    "/reports/weekly.pdf",
    "The weekly report as a PDF: the same HTML the email carries, with its charts",
    parameters=WEEK,
    media={"application/pdf": PDF},
)
def weekly_report_pdf() -> Any:
    settings = deps.settings()
    week = parse_week(request.args.get("week"), settings.timezone)
    return _pdf(build_weekly_report(deps.session(), week))


def _pdf(report: dict[str, Any]) -> Response:
    try:
        body = render_pdf(report)
    except PdfUnavailable as exc:
        return error_response(503, "unavailable", str(exc))
    return Response(
        body,
        mimetype="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{filename(report, "pdf")}"'},
    )
