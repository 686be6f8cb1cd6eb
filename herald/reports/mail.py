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
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid, parseaddr
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from sqlalchemy import delete, select, update
from sqlalchemy.exc import IntegrityError

from herald.channels.smtp_pool import tls_context
from herald.core import clock
from herald.core.db import Database
from herald.core.errors import HeraldError
from herald.core.settings import Settings
from herald.reports import charts, present
from herald.reports.models import ReportSent
from herald.reports.weekly import Week, build_weekly_report, parse_week

log = logging.getLogger(__name__)
# a claim this old and never marked sent was left by a worker that died mid-send
CLAIM_STALE_AFTER = timedelta(minutes=30)
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
        "lift_text": present.lift_text,
        "delta_text": lambda key, change: present.delta(key, change) or "±0",
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
    # the BOM makes spreadsheet apps read the UTF-8 (Chinese campaign names) correctly
    message.add_attachment(
        "\ufeff" + present.to_csv(report),
        subtype="csv",
        charset="utf-8",
        filename=f"herald-weekly-{report['week']}.csv",
    )
    return message


def deliver(settings: Settings, message: EmailMessage, recipients: list[str]) -> None:
    """Hand the message to the configured SMTP server (TLS and login per settings)."""
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


def _claim(db: Database, week: str, recipients: list[str]) -> str | None:
    """Claim ``week`` for sending: None when claimed, else why not. A claim never marked sent
    and older than CLAIM_STALE_AFTER was left by a worker that died mid-send: taken over."""
    now = clock.now()
    names = ",".join(recipients)[:2000]  # the column's size; the list is only a note
    try:
        with db.session() as session:
            session.add(ReportSent(week=week, recipients=names, claimed_at=now))
        return None
    except IntegrityError:
        pass
    with db.session() as session:
        taken = session.execute(
            update(ReportSent)
            .where(
                ReportSent.week == week,
                ReportSent.sent_at.is_(None),
                ReportSent.claimed_at < now - CLAIM_STALE_AFTER,
            )
            .values(claimed_at=now, recipients=names)
        ).rowcount
        if taken == 1:
            return None
        sent_at = session.scalar(select(ReportSent.sent_at).where(ReportSent.week == week))
    return "already sent" if sent_at else "in progress"


def send_weekly_once(db: Database, settings: Settings, week_text: str | None = None) -> str:
    """The scheduled report: build and send ``week`` (default: the week before this one) unless
    it was already claimed. The claim is a unique row committed before sending; a failed send
    releases it so a retry can try again. Returns what happened: ``sent``, ``already sent``,
    ``in progress`` or ``no recipients``."""
    recipients = recipients_of(settings)
    if not recipients:
        log.warning("weekly report not sent: HERALD_REPORT_RECIPIENTS is not set")
        return "no recipients"
    week: Week = parse_week(week_text, settings.timezone)
    refused = _claim(db, week.label, recipients)
    if refused:
        log.info("weekly report %s not sent again: %s", week.label, refused)
        return refused
    try:
        with db.session() as session:
            report = build_weekly_report(session, week)
        send_report(settings, report)
    except Exception:
        with db.session() as session:
            session.execute(
                delete(ReportSent).where(
                    ReportSent.week == week.label, ReportSent.sent_at.is_(None)
                )
            )
        raise
    with db.session() as session:
        session.execute(
            update(ReportSent).where(ReportSent.week == week.label).values(sent_at=clock.now())
        )
    return "sent"
