"""SMTP over STARTTLS and implicit TLS with authentication, against aiosmtpd with a self-signed
certificate trusted through ``HERALD_SMTP_CA_FILE``."""

from __future__ import annotations

import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from herald.channels.email import EmailChannel
from tests.channels.test_email_render import recipient, run_info, settings_for
from tests.conftest import SmtpRecorder, free_port


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
         "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1",
         "-keyout", str(key), "-out", str(cert)],
        check=True,
        capture_output=True,
    )  # fmt: skip
    return cert, key


class Logins:
    """Accepts one user and remembers every attempt."""

    def __init__(self) -> None:
        self.attempts: list[tuple[str, bytes]] = []

    def __call__(self, server: Any, session: Any, envelope: Any, mechanism: str, data: Any):
        assert isinstance(data, LoginPassword)
        self.attempts.append((mechanism, data.login))
        return AuthResult(success=data.login == b"herald" and data.password == b"s3cret")


def _server_context(cert: Path, key: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    return context


@pytest.fixture
def starttls_server(certificate) -> Iterator[tuple[SmtpRecorder, int, Logins]]:
    recorder, logins, port = SmtpRecorder(), Logins(), free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        tls_context=_server_context(*certificate),
        require_starttls=True,
        auth_required=True,
        authenticator=logins,
    )
    controller.start()
    yield recorder, port, logins
    controller.stop()


def _send(tmp_path: Path, port: int, certificate: tuple[Path, Path], tls: str, password: str):
    channel = EmailChannel(
        settings_for(
            tmp_path,
            HERALD_SMTP_PORT=str(port),
            HERALD_SMTP_TLS=tls,
            HERALD_SMTP_USER="herald",
            HERALD_SMTP_PASSWORD=password,
            HERALD_SMTP_CA_FILE=str(certificate[0]),
            HERALD_SMTP_TIMEOUT="2",
        )
    )
    try:
        return channel.send(channel.render(channel.prepare(run_info()), recipient()))
    finally:
        channel.close()


def test_it_sends_over_starttls_after_logging_in(tmp_path, certificate, starttls_server):
    recorder, port, logins = starttls_server
    outcome = _send(tmp_path, port, certificate, "starttls", "s3cret")
    assert outcome.status == "sent"
    assert [m.recipients for m in recorder.messages] == [["zoe@example.com"]]
    assert [login for _, login in logins.attempts] == [b"herald"]


def test_a_refused_login_is_a_transient_failure_with_a_reason(
    tmp_path, certificate, starttls_server
):
    recorder, port, _ = starttls_server
    outcome = _send(tmp_path, port, certificate, "starttls", "wrong")
    # aiosmtpd stalls a refused login rather than answering 535 at once: either way the
    # delivery is retried later and nothing was sent
    assert outcome.status == "transient"
    assert "535" in outcome.reason or "timed out" in outcome.reason
    assert recorder.messages == []


def test_an_untrusted_certificate_is_refused(tmp_path, certificate, starttls_server):
    recorder, port, _ = starttls_server
    channel = EmailChannel(
        settings_for(tmp_path, HERALD_SMTP_PORT=str(port), HERALD_SMTP_TLS="starttls")
    )
    outcome = channel.send(channel.render(channel.prepare(run_info()), recipient()))
    assert outcome.status == "transient" and "CERTIFICATE_VERIFY_FAILED" in outcome.reason
    assert recorder.messages == []


def test_it_sends_over_implicit_tls(tmp_path, certificate):
    recorder, logins, port = SmtpRecorder(), Logins(), free_port()
    controller = Controller(
        recorder,
        hostname="127.0.0.1",
        port=port,
        ssl_context=_server_context(*certificate),
        auth_required=True,
        auth_require_tls=False,  # aiosmtpd does not see implicit TLS as TLS; it is, though
        authenticator=logins,
    )
    controller.start()
    try:
        outcome = _send(tmp_path, port, certificate, "ssl", "s3cret")
    finally:
        controller.stop()
    assert outcome.status == "sent", outcome.reason
    assert len(recorder.messages) == 1
