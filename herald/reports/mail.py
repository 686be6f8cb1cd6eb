"""The report email and its delivery.

Structure (what mail clients expect for an HTML body with inline images and an attachment)::

    multipart/mixed
      multipart/alternative
        text/plain
        multipart/related
          text/html            (references cid:engagement… and cid:revenue…)
          image/png            (Content-ID engagement…, inline)
          image/png            (Content-ID revenue…, inline)
      text/csv                 (attachment)
"""

from __future__ import annotations

import logging
import secrets
import smtplib
from datetime import datetime
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError

from herald.core import clock
from herald.core.db import Database
from herald.core.errors import HeraldError
from herald.core.settings import Settings
from herald.reports import charts, present
from herald.reports.models import ReportSent
from herald.reports.weekly import Week, build_weekly_report, parse_week

log = logging.getLogger(__name__)
KPIS = ("sent", "open_rate", "click_rate", "conversions", "revenue", "unsubscribes")


class NoRecipients(HeraldError):
    """``--send`` without ``HERALD_REPORT_RECIPIENTS``."""

    code = "no_recipients"


@cache
def _templates() -> Environment:
    return Environment(
        loader=PackageLoader("herald", "web/templates"),
        autoescape=select_autoescape(["html"]),
        trim_blocks=True,
        lstrip_blocks=True,
    )


def _context(report: dict[str, Any], images: dict[str, str] | None = None) -> dict[str, Any]:
    start = datetime.fromisoformat(report["from"])
    last_day = datetime.fromisoformat(report["to"]).date().toordinal() - 1
    rows = present.rows(report)
    kpis = [
        (label, cell)
        for (key, label), cell in zip(present.COLUMNS, rows[-1]["cells"], strict=True)
        if key in KPIS
    ]
    return {
        "report": report,
        "rows": rows,
        "kpis": kpis,
        "columns": present.COLUMNS,
        "value": present.value,
        "period": f"{start:%a %d %b} – {datetime.fromordinal(last_day):%a %d %b %Y}",
        "images": images or {},
    }


def render_text(report: dict[str, Any]) -> str:
    """The plain-text version of the report."""
    return _templates().get_template("reports/weekly.txt").render(_context(report))


def render_html(report: dict[str, Any], images: dict[str, str] | None = None) -> str:
    """The HTML version; ``images`` maps chart names to their ``cid:`` URL (or data URL)."""
    return _templates().get_template("reports/weekly.html").render(_context(report, images))


def build_message(report: dict[str, Any], sender: str, recipients: list[str]) -> EmailMessage:
    """The complete email: text and HTML alternatives, charts inline, the CSV attached."""
    domain = (parseaddr(sender)[1].rpartition("@")[2] or "herald.local").strip(">")
    pngs = {
        "engagement": charts.engagement_chart(report),
        "revenue": charts.revenue_chart(report),
    }
    tag = secrets.token_hex(4)
    cids = {name: f"<{name}.{report['week']}.{tag}@{domain}>" for name in pngs}
    message = EmailMessage()
    message["Subject"] = f"Herald weekly report {report['week']}"
    message["From"] = sender
    message["To"] = ", ".join(recipients)
    message["Date"] = format_datetime(clock.now())
    message["Message-ID"] = make_msgid(idstring=f"report-{report['week']}", domain=domain)
    message.set_content(render_text(report))
    html = render_html(report, {name: f"cid:{cid[1:-1]}" for name, cid in cids.items()})
    message.add_alternative(html, subtype="html")
    html_part = message.get_payload()[1]
    for name, png in pngs.items():
        html_part.add_related(
            png, "image", "png", cid=cids[name], filename=f"{name}.png", disposition="inline"
        )
    message.add_attachment(
        present.to_csv(report).encode("utf-8"),
        maintype="text",
        subtype="csv",
        filename=f"herald-weekly-{report['week']}.csv",
    )
    return message


def deliver(settings: Settings, message: EmailMessage, recipients: list[str]) -> None:
    """Hand the message to the configured SMTP server (TLS and login per settings)."""
    from herald.channels.smtp_pool import tls_context

    host, port, timeout = settings.smtp_host, settings.smtp_port, settings.smtp_timeout
    if settings.smtp_tls == "ssl":
        smtp: smtplib.SMTP = smtplib.SMTP_SSL(
            host, port, timeout=timeout, context=tls_context(settings)
        )
    else:
        smtp = smtplib.SMTP(host, port, timeout=timeout)
    with smtp:
        if settings.smtp_tls == "starttls":
            smtp.starttls(context=tls_context(settings))
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        sender = parseaddr(settings.mail_from)[1]
        # raises when every recipient is refused; some refused still counts as sent, so a
        # retry does not send the others a second copy
        refused = smtp.send_message(message, from_addr=sender, to_addrs=recipients)
    for address, reply in refused.items():
        log.warning("weekly report refused for %s: %s", address, reply)


def recipients_of(settings: Settings) -> list[str]:
    """``HERALD_REPORT_RECIPIENTS`` as bare addresses."""
    return list(settings.report_recipients)


def send_report(settings: Settings, report: dict[str, Any]) -> list[str]:
    """Email ``report`` to the report recipients; raises NoRecipients when there are none."""
    recipients = recipients_of(settings)
    if not recipients:
        raise NoRecipients("HERALD_REPORT_RECIPIENTS is not set; nobody to send the report to")
    deliver(settings, build_message(report, settings.mail_from, recipients), recipients)
    log.info("weekly report %s sent to %s", report["week"], ", ".join(recipients))
    return recipients


def send_weekly_once(db: Database, settings: Settings, week_text: str | None = None) -> str:
    """The scheduled report: build and send ``week`` (default: the week before this one) unless
    it was already claimed. The claim is a unique row committed before sending; a failed send
    removes it so a retry can try again. Returns what happened, in a word."""
    if not recipients_of(settings):
        log.warning("weekly report not sent: HERALD_REPORT_RECIPIENTS is not set")
        return "no recipients"
    week: Week = parse_week(week_text, settings.timezone)
    try:
        with db.session() as session:
            session.add(ReportSent(week=week.label, recipients=",".join(recipients_of(settings))))
    except IntegrityError:
        log.info("weekly report %s was already sent", week.label)
        return "already sent"
    try:
        with db.session() as session:
            report = build_weekly_report(session, week)
        send_report(settings, report)
    except Exception:
        with db.session() as session:
            session.execute(delete(ReportSent).where(ReportSent.week == week.label))
        raise
    with db.session() as session:
        row = session.scalar(select(ReportSent).where(ReportSent.week == week.label))
        if row is not None:
            row.sent_at = clock.now()
    return "sent"
