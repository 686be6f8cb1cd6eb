"""The weekly report by email (to a real SMTP server), on the command line, and on the scheduler."""

# the story fixtures are imported from test_reports, so pytest sees them here too
# ruff: noqa: F811

from __future__ import annotations

import csv
import email
import email.policy
import io
import re
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

from click.testing import CliRunner
from sqlalchemy import select

from herald.campaigns.metrics import COUNTS, RATES
from herald.cli import main
from herald.core import clock
from herald.core.db import Database
from herald.core.settings import Settings
from herald.reports.mail import send_weekly_once
from herald.reports.models import ReportSent
from tests.campaigns.test_reports import (  # noqa: F401 (fixtures)
    SHANGHAI,
    Story,
    at,
    report_for,
    story,
    story_settings,
)
from tests.conftest import SmtpRecorder

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


def _parse(data: bytes) -> EmailMessage:
    message = email.message_from_bytes(data, policy=email.policy.default)
    assert isinstance(message, EmailMessage)
    return message


def _check_structure(message: EmailMessage) -> list[dict[str, str]]:
    """The MIME tree is mixed(alternative(text, related(html, png…)), csv); every cid the HTML
    references is an image part and every image is referenced. Returns the CSV rows."""
    assert message.get_content_type() == "multipart/mixed"
    alternative, attachment = message.get_payload()
    assert alternative.get_content_type() == "multipart/alternative"
    text, related = alternative.get_payload()
    assert text.get_content_type() == "text/plain"
    assert related.get_content_type() == "multipart/related"
    html, *images = related.get_payload()
    assert html.get_content_type() == "text/html"
    assert len(images) == 2
    referenced = set(re.findall(r'src="cid:([^"]+)"', html.get_content()))
    present = set()
    for image in images:
        assert image.get_content_type() == "image/png"
        assert image.get_content_disposition() == "inline"
        assert image.get_content().startswith(PNG_MAGIC)
        present.add(image["Content-ID"].strip().strip("<>"))
    assert referenced == present
    for part in (text, html):
        assert "Newsletter" in part.get_content() and "Flash sale 双11" in part.get_content()
    assert attachment.get_content_type() == "text/csv"
    assert attachment.get_content_disposition() == "attachment"
    assert attachment.get_filename() == "herald-weekly-2026-W47.csv"
    content = attachment.get_content()
    assert content.startswith("\ufeff")  # spreadsheet apps then read UTF-8
    return list(csv.DictReader(io.StringIO(content.removeprefix("\ufeff"))))


def _check_csv(rows: list[dict[str, str]], db: Database) -> None:
    report = report_for(db, "2026-W47")
    assert [row["name"] for row in rows] == ["Newsletter", "Flash sale 双11"]
    for row, campaign in zip(rows, report["campaigns"], strict=True):
        assert int(row["id"]) == campaign["id"] and row["kind"] == campaign["kind"]
        for name in COUNTS:
            assert int(row[name]) == campaign["metrics"][name], name
        for name in (*RATES, "revenue"):
            assert float(row[name]) == campaign["metrics"][name], name


def test_the_report_email_is_html_with_inline_charts_text_and_a_csv(
    db: Database, story: Story, story_settings: Settings, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp_server
    recorder.messages.clear()  # the story's campaign emails

    assert send_weekly_once(db, story_settings, "2026-W47") == "sent"

    [received] = recorder.messages
    assert sorted(received.recipients) == ["boss@shop.example", "team@shop.example"]
    assert received.sender == "marketing@example.com"
    message = _parse(received.data)
    assert message["Subject"] == "Herald weekly report 2026-W47"
    assert message["Message-ID"]
    _check_csv(_check_structure(message), db)


def test_the_scheduled_report_goes_out_once_per_week(
    db: Database, story: Story, story_settings: Settings, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp_server
    recorder.messages.clear()
    at(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # Monday 09:00 in Shanghai, W48

    assert send_weekly_once(db, story_settings) == "sent"
    assert send_weekly_once(db, story_settings) == "already sent"
    assert send_weekly_once(db, story_settings, "2026-W47") == "already sent"

    assert len(recorder.messages) == 1
    with db.session() as session:
        [row] = session.scalars(select(ReportSent))
    assert row.week == "2026-W47" and row.sent_at is not None


def test_a_failed_send_releases_the_week_for_a_retry(
    db: Database, story_settings: Settings, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp_server
    recorder.refuse = {
        "boss@shop.example": "550 no such user",
        "team@shop.example": "550 no such user",
    }
    try:
        send_weekly_once(db, story_settings, "2026-W10")
    except Exception:
        pass
    else:  # pragma: no cover
        raise AssertionError("a refused recipient should fail the send")
    with db.session() as session:
        assert session.scalars(select(ReportSent)).all() == []
    recorder.refuse = {}
    assert send_weekly_once(db, story_settings, "2026-W10") == "sent"


def test_a_claim_left_by_a_dead_worker_is_taken_over_after_a_while(
    db: Database, story_settings: Settings, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp_server
    with db.session() as session:
        session.add(ReportSent(week="2026-W10", claimed_at=clock.now()))
        session.add(ReportSent(week="2026-W11", claimed_at=clock.now() - timedelta(hours=1)))

    assert send_weekly_once(db, story_settings, "2026-W10") == "in progress"
    assert send_weekly_once(db, story_settings, "2026-W11") == "sent"
    assert [m.data.count(b"2026-W11") > 0 for m in recorder.messages] == [True]


def test_without_recipients_the_scheduled_report_is_skipped(
    db: Database, tmp_path, database_url: str
) -> None:
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, database_url)
    assert send_weekly_once(db, settings, "2026-W47") == "no recipients"


# --------------------------------------------------------------------------- CLI


def _env(settings: Settings, **extra: str) -> dict[str, str]:
    env = {
        "HERALD_INSTANCE_PATH": str(settings.instance_path),
        "HERALD_DATABASE_URL": settings.database_url,
        "HERALD_BROKER_URL": "memory://",
        "HERALD_SECRET_KEY": "test-secret-key",
        "HERALD_SMTP_HOST": "127.0.0.1",
        "HERALD_SMTP_PORT": str(settings.smtp_port),
        "HERALD_TIMEZONE": "Asia/Shanghai",
        "HERALD_REPORT_RECIPIENTS": "",
    }
    env.update({f"HERALD_{k.upper()}": v for k, v in extra.items()})
    return env


def test_the_cli_prints_the_report_as_a_table(
    db: Database, story: Story, story_settings: Settings
) -> None:
    result = CliRunner().invoke(
        main, ["reports", "weekly", "--week", "2026-W47"], env=_env(story_settings)
    )
    assert result.exit_code == 0, result.output
    for text in ("2026-W47", "Newsletter", "Flash sale", "50.0%", "120.50", "+10.0 pts", "+20.5%"):
        assert text in result.output, text
    assert "Cart reminder" not in result.output


def test_the_cli_sends_the_report(
    db: Database,
    story: Story,
    story_settings: Settings,
    smtp_server: tuple[SmtpRecorder, int],
) -> None:
    recorder, _ = smtp_server
    recorder.messages.clear()
    env = _env(story_settings, report_recipients="boss@shop.example")
    result = CliRunner().invoke(
        main, ["reports", "weekly", "--week", "2026-W47", "--send"], env=env
    )
    assert result.exit_code == 0, result.output
    assert "sent 2026-W47 to boss@shop.example" in result.output
    [received] = recorder.messages
    _check_csv(_check_structure(_parse(received.data)), db)


def test_the_cli_refuses_to_send_without_recipients(
    db: Database, story_settings: Settings, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    recorder, _ = smtp_server
    result = CliRunner().invoke(main, ["reports", "weekly", "--send"], env=_env(story_settings))
    assert result.exit_code != 0
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and "HERALD_REPORT_RECIPIENTS" in lines[0]
    assert recorder.messages == []


def test_the_cli_refuses_a_malformed_week(db: Database, story_settings: Settings) -> None:
    result = CliRunner().invoke(
        main, ["reports", "weekly", "--week", "47"], env=_env(story_settings)
    )
    assert result.exit_code != 0
    assert len(result.output.strip().splitlines()) == 1 and "week" in result.output


# --------------------------------------------------------------------------- scheduler


def test_the_scheduler_enqueues_the_report_every_monday_at_nine_in_the_zone(
    story_settings: Settings, monkeypatch
) -> None:
    from herald.workers import tasks
    from herald.workers.scheduler import build_scheduler

    scheduler = build_scheduler(story_settings)
    job = scheduler.get_job("weekly-report")
    trigger = job.trigger
    fields = {f.name: str(f) for f in trigger.fields}
    assert (fields["day_of_week"], fields["hour"], fields["minute"]) == ("mon", "9", "0")
    assert (fields["day"], fields["month"]) == ("*", "*")
    assert trigger.timezone == SHANGHAI
    after = datetime(2026, 11, 18, 12, 0, tzinfo=UTC)
    assert trigger.get_next_fire_time(None, after) == datetime(2026, 11, 23, 9, 0, tzinfo=SHANGHAI)

    sent: list[dict[str, object]] = []
    monkeypatch.setattr(tasks.weekly_report, "apply_async", lambda **kw: sent.append(kw))
    at(datetime(2026, 11, 23, 1, 0, tzinfo=UTC))  # the job's own moment: Monday 09:00 Shanghai
    job.func(*job.args)
    assert sent == [{"args": ["2026-W47"], "expires": 3600}]


def test_the_task_sends_the_named_week(
    db: Database, story: Story, story_settings: Settings, smtp_server: tuple[SmtpRecorder, int]
) -> None:
    from herald.workers import context, tasks

    recorder, _ = smtp_server
    recorder.messages.clear()
    context.reset(story_settings)
    try:
        assert tasks.weekly_report.run("2026-W47") == {"week": "2026-W47", "outcome": "sent"}
        assert tasks.weekly_report.run("2026-W47")["outcome"] == "already sent"
    finally:
        context.reset()
    assert len(recorder.messages) == 1
    assert tasks.weekly_report.name == "herald.weekly_report"
    assert tasks.weekly_report.autoretry_for == (OSError,)  # smtplib errors are OSErrors
