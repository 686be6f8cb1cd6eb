"""``herald reports weekly``: the report as a terminal table, and optionally emailed."""

from __future__ import annotations

import smtplib
import sys
from typing import Any

from rich.console import Console
from rich.table import Table

from herald.core.db import Database
from herald.core.errors import HeraldError
from herald.core.settings import Settings
from herald.reports import present
from herald.reports.mail import NoRecipients, recipients_of, send_report
from herald.reports.weekly import build_weekly_report, parse_week

TREND_STYLE = {"up": "green", "down": "red", "flat": "dim"}


def table(report: dict[str, Any]) -> Table:
    """Campaigns and triggers with their metrics and changes, a totals row last."""
    grid = Table(
        title=f"Herald weekly report {report['week']}",
        caption=f"{report['from']} → {report['to']} · compared with {report['previous_week']}",
    )
    grid.add_column("Campaign")
    grid.add_column("Kind")
    for _, label in present.COLUMNS:
        grid.add_column(label, justify="right")
    rows = present.rows(report)
    for index, row in enumerate(rows):
        cells = []
        for cell in row["cells"]:
            text = cell["text"]
            if cell["delta"]:
                text += f"\n[{TREND_STYLE[cell['trend']]}]{cell['delta']}[/]"
            cells.append(text)
        grid.add_row(
            row["name"],
            "" if row["kind"] == "total" else row["kind"],
            *cells,
            style="bold" if row["kind"] == "total" else None,
            end_section=index == len(rows) - 2,
        )
    return grid


def extras(report: dict[str, Any]) -> list[Table]:
    """A/B outcomes and top links, when there are any."""
    out = []
    if report["ab_tests"]:
        tests = Table(title="A/B tests")
        for name in ("Campaign", "Metric", "Winner", "Reason"):
            tests.add_column(name)
        for test in report["ab_tests"]:
            tests.add_row(
                test["name"],
                str(test["metric"] or ""),
                str(test["winner"] or "—"),
                str(test["reason"] or test["status"]),
            )
        out.append(tests)
    if report["top_links"]:
        links = Table(title="Top links")
        links.add_column("Link")
        links.add_column("Clicks", justify="right")
        links.add_column("Clickers", justify="right")
        for link in report["top_links"]:
            links.add_row(link["url"], f"{link['clicks']:,}", f"{link['unique_clickers']:,}")
        out.append(links)
    return out


def weekly(settings: Settings, week_text: str | None, send: bool) -> None:
    """Print the report; with ``send``, email it (refusing at once when nobody would get it)."""
    if send and not recipients_of(settings):
        raise NoRecipients("--send needs HERALD_REPORT_RECIPIENTS (comma-separated emails)")
    week = parse_week(week_text, settings.timezone)
    database = Database(settings.database_url)
    try:
        with database.session() as session:
            report = build_weekly_report(session, week)
    finally:
        database.dispose()
    # piped output (a file, a cron mail) gets a width that fits every column
    console = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
    console.print(table(report))
    for extra in extras(report):
        console.print(extra)
    if send:
        try:
            recipients = send_report(settings, report)
        except (smtplib.SMTPException, OSError) as exc:
            raise HeraldError(f"could not send the report: {exc}") from None
        console.print(f"sent {report['week']} to {', '.join(recipients)}")
