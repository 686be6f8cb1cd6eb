"""SMTP PIPELINING (RFC 2920): when the server offers it, the pool sends MAIL, RCPT and DATA in
one write and reads their replies after; against a real aiosmtpd server that offers it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from smtplib import quoteaddr
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from hypothesis import given
from hypothesis import strategies as st

from herald.channels.smtp_pool import SmtpPool, _quote
from herald.core.settings import Settings
from tests.conftest import SmtpRecorder, free_port


class PipeliningRecorder(SmtpRecorder):
    """Offers PIPELINING in its EHLO answer."""

    async def handle_EHLO(
        self, server: Any, session: Any, envelope: Any, hostname: str, responses: list[str]
    ) -> list[str]:
        session.host_name = hostname
        return [*responses[:-1], "250-PIPELINING", responses[-1]]


@pytest.fixture
def server() -> Iterator[tuple[PipeliningRecorder, int]]:
    recorder = PipeliningRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()


def pool_for(tmp_path: Path, port: int) -> SmtpPool:
    settings = Settings.from_env(
        {
            "HERALD_INSTANCE_PATH": str(tmp_path),
            "HERALD_SECRET_KEY": "k",
            "HERALD_SMTP_HOST": "127.0.0.1",
            "HERALD_SMTP_PORT": str(port),
        }
    )
    return SmtpPool(settings)


MESSAGE = (
    b"From: shop@example.com\r\nTo: a@example.com\r\nSubject: Hi\r\n\r\n"
    b"line one\r\n.a line that starts with a dot\r\n.\r\nlast line"
)


def test_it_pipelines_the_envelope_and_delivers_the_message_byte_for_byte(tmp_path, server):
    recorder, port = server
    pool = pool_for(tmp_path, port)
    try:
        first = pool.submit("shop@example.com", "a@example.com", MESSAGE)
        second = pool.submit("shop@example.com", "b@example.com", MESSAGE)
        offered = [smtp.has_extn("pipelining") for smtp in pool._idle]
    finally:
        pool.close()
    assert (first.status, second.status) == ("sent", "sent")
    assert offered == [True]
    assert pool.opened == 1  # both over one kept connection
    assert recorder.by_recipient() == {"a@example.com": 1, "b@example.com": 1}
    # dot-stuffing undone by the server: the body arrives as it was given (plus the final CRLF)
    assert recorder.messages[0].data == MESSAGE + b"\r\n"


def test_a_refused_recipient_is_a_hard_bounce_and_the_connection_stays_usable(tmp_path, server):
    recorder, port = server
    recorder.refuse["gone@example.com"] = "550 5.1.1 no such user"
    pool = pool_for(tmp_path, port)
    try:
        refused = pool.submit("shop@example.com", "gone@example.com", MESSAGE)
        after = pool.submit("shop@example.com", "a@example.com", MESSAGE)
    finally:
        pool.close()
    assert refused.status == "permanent"
    assert refused.reason.startswith("SMTP 550 at RCPT TO")
    assert refused.event is not None and refused.event["type"] == "bounced"
    assert after.status == "sent"
    assert pool.opened == 1
    assert recorder.by_recipient() == {"a@example.com": 1}


def test_a_refused_sender_is_permanent_without_a_bounce(tmp_path, server):
    recorder, port = server

    async def refuse_mail(*args: Any) -> str:
        return "553 sender not allowed"

    recorder.handle_MAIL = refuse_mail  # type: ignore[attr-defined]
    pool = pool_for(tmp_path, port)
    try:
        outcome = pool.submit("bad@example.com", "a@example.com", MESSAGE)
    finally:
        pool.close()
    assert outcome.status == "permanent"
    assert outcome.reason.startswith("SMTP 553 at MAIL FROM")
    assert outcome.event is None
    assert recorder.messages == []


@given(
    local=st.text(alphabet=st.characters(codec="ascii"), min_size=0, max_size=12),
    domain=st.text(alphabet=st.characters(codec="ascii"), min_size=0, max_size=12),
    name=st.sampled_from(["", "Shop ", '"A, B" ']),
)
def test_the_envelope_quoting_agrees_with_smtplib(local, domain, name):
    """The fast path for a bare address gives what ``smtplib.quoteaddr`` gives, and anything
    else goes to it."""
    address = f"{local}@{domain}"
    for given_address in (address, f"{name}<{address}>", local):
        assert _quote(given_address) == quoteaddr(given_address)
