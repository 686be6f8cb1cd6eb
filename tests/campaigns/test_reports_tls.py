"""The report email over STARTTLS and implicit TLS with a login, as the settings ask."""

# the TLS fixtures come from the email channel's tests
# ruff: noqa: F811

from __future__ import annotations

import email
import email.policy
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from herald.core.settings import Settings
from herald.reports.mail import send_report
from herald.reports.weekly import build_weekly_report, parse_week
from tests.campaigns.test_reports import SHANGHAI
from tests.channels.test_email_tls import (  # noqa: F401 (fixtures)
    Logins,
    _server_context,
    certificate,
    starttls_server,
)
from tests.conftest import SmtpRecorder, free_port, make_settings


def _report(tmp_path: Path) -> dict[str, Any]:
    from herald.core.db import Database
    from herald.core.migrate import upgrade

    url = f"sqlite:///{tmp_path / 'tls.db'}"
    upgrade(url)
    database = Database(url)
    try:
        with database.session() as session:
            return build_weekly_report(session, parse_week("2026-W47", SHANGHAI))
    finally:
        database.dispose()


def _settings(
    tmp_path: Path, port: int, tls: str, cert: Path, password: str = "s3cret"
) -> Settings:
    return make_settings(
        tmp_path,
        f"sqlite:///{tmp_path / 'tls.db'}",
        smtp_port=str(port),
        smtp_tls=tls,
        smtp_user="herald",
        smtp_password=password,
        smtp_ca_file=str(cert),
        smtp_timeout="3",
        report_recipients="boss@shop.example",
    )


def test_the_report_goes_over_starttls_after_logging_in(
    tmp_path: Path, certificate, starttls_server
) -> None:
    recorder, port, logins = starttls_server
    settings = _settings(tmp_path, port, "starttls", certificate[0])
    assert send_report(settings, _report(tmp_path)) == ["boss@shop.example"]
    [received] = recorder.messages
    assert received.recipients == ["boss@shop.example"]
    message = email.message_from_bytes(received.data, policy=email.policy.default)
    assert message["Subject"] == "Herald weekly report 2026-W47"
    assert [login for _, login in logins.attempts] == [b"herald"]


def test_a_wrong_password_fails_the_send(tmp_path: Path, certificate, starttls_server) -> None:
    recorder, port, _ = starttls_server
    settings = _settings(tmp_path, port, "starttls", certificate[0], password="wrong")
    with pytest.raises(Exception):  # noqa: B017 - refused (535) or stalled by aiosmtpd
        send_report(settings, _report(tmp_path))
    assert recorder.messages == []


def test_the_report_goes_over_implicit_tls(tmp_path: Path, certificate) -> None:
    recorder, logins, port = SmtpRecorder(), Logins(), free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        ssl_context=_server_context(*certificate),
        auth_required=True,
        auth_require_tls=False,
        authenticator=logins,
    )
    controller.start()
    try:
        send_report(_settings(tmp_path, port, "ssl", certificate[0]), _report(tmp_path))
    finally:
        controller.stop()
    assert len(recorder.messages) == 1
    assert [login for _, login in logins.attempts] == [b"herald"]
