"""The email channel on its own: rendering from the prepared skeleton, DKIM, and the SMTP pool
against a real aiosmtpd server (no database)."""

from __future__ import annotations

import base64
import email
import email.policy
import socket
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import dkim
import pytest

from herald.channels.base import Recipient, RunInfo
from herald.channels.email import EmailChannel
from herald.core.settings import Settings


def settings_for(tmp_path: Path, **env: str) -> Settings:
    base = {
        "HERALD_INSTANCE_PATH": str(tmp_path / "instance"),
        "HERALD_SECRET_KEY": "test-secret-key",
        "HERALD_PUBLIC_URL": "http://herald.test",
        "HERALD_MAIL_FROM": "Shop <news@shop.example>",
    }
    return Settings.from_env({**base, **env})


def run_info(**content: Any) -> RunInfo:
    body = {"subject": "Hi {{ contact.first_name }}", "html": "<p>Hi</p>", **content}
    return RunInfo(1, "Sale", 7, 3, "A", body, datetime(2026, 11, 11, tzinfo=UTC))


def recipient(delivery_id: int = 42, address: str = "zoe@example.com", **contact: Any) -> Recipient:
    context = {
        "contact": {"id": 5, "first_name": "Zoë", **contact},
        "campaign": {"id": 1, "name": "Sale"},
        "coupon": {},
        "unsubscribe_url": f"http://herald.test/u/tok{delivery_id}",
    }
    return Recipient(5, delivery_id, address, None, context)


def parse(raw: bytes) -> Any:
    return email.message_from_bytes(raw, policy=email.policy.default)


def test_the_message_id_is_the_same_for_the_same_delivery_and_differs_between_deliveries(
    tmp_path,
):
    channel = EmailChannel(settings_for(tmp_path))
    prepared = channel.prepare(run_info())
    first = channel.render(prepared, recipient(42))
    again = channel.render(channel.prepare(run_info()), recipient(42))
    other = channel.render(prepared, recipient(43))
    assert first.message_id == again.message_id == parse(first.data)["Message-ID"]
    assert first.message_id.startswith("<42.7.herald") and first.message_id.endswith(
        "@shop.example>"
    )
    assert other.message_id != first.message_id


def test_a_long_utf8_subject_is_folded_into_encoded_words_that_decode_back(tmp_path):
    channel = EmailChannel(settings_for(tmp_path))
    subject = "双十一 early access for {{ contact.first_name }} — " + "très bon " * 8
    message = channel.render(channel.prepare(run_info(subject=subject)), recipient())
    head = message.data.split(b"\r\n\r\n", 1)[0]
    assert all(len(line) <= 78 for line in head.split(b"\r\n"))
    assert head.isascii()
    assert parse(message.data)["Subject"] == (
        "双十一 early access for Zoë — " + " ".join(["très bon"] * 8)
    )


def test_a_newline_in_a_subject_cannot_inject_a_header(tmp_path):
    channel = EmailChannel(settings_for(tmp_path))
    prepared = channel.prepare(run_info(subject="{{ contact.first_name }}"))
    message = channel.render(prepared, recipient(first_name="x\r\nBcc: evil@example.com"))
    parsed = parse(message.data)
    assert parsed["Bcc"] is None and parsed["Subject"] == "x Bcc: evil@example.com"


def test_a_template_with_block_tags_is_still_inlined_and_tracked_per_member(tmp_path):
    html = (
        "<style>td{color:red}</style><table>{% for i in [1, 2] %}<tr><td>"
        "<a href='https://shop.example/{{ i }}'>{{ i }}</a></td></tr>{% endfor %}</table>"
    )
    channel = EmailChannel(settings_for(tmp_path))
    prepared = channel.prepare(run_info(html=html))
    body = parse(channel.render(prepared, recipient()).data).get_body(("html",)).get_content()
    assert body.count('style="color: red;"') == 2
    assert body.count('href="http://herald.test/t/c/') == 2
    assert "/t/o/" in body


def test_a_text_only_variant_is_a_single_text_part(tmp_path):
    channel = EmailChannel(settings_for(tmp_path))
    prepared = channel.prepare(run_info(html=None, text="Hello {{ contact.first_name }}"))
    parsed = parse(channel.render(prepared, recipient()).data)
    assert parsed.get_content_type() == "text/plain"
    assert parsed.get_content().replace("\r\n", "\n") == "Hello Zoë\n"


@pytest.fixture(scope="module")
def dkim_key(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, bytes]:
    folder = tmp_path_factory.mktemp("dkim")
    key = folder / "dkim.pem"
    subprocess.run(
        ["openssl", "genrsa", "-traditional", "-out", str(key), "2048"],
        check=True,
        capture_output=True,
    )
    public = subprocess.run(
        ["openssl", "rsa", "-in", str(key), "-pubout", "-outform", "DER"],
        check=True,
        capture_output=True,
    ).stdout
    return key, b"v=DKIM1; k=rsa; p=" + base64.b64encode(public)


def test_the_dkim_signature_verifies_and_covers_the_contract_headers(
    tmp_path, dkim_key, smtp_server
):
    key, record = dkim_key
    recorder, port = smtp_server
    settings = settings_for(
        tmp_path,
        HERALD_DKIM_DOMAIN="shop.example",
        HERALD_DKIM_SELECTOR="herald",
        HERALD_DKIM_KEY_FILE=str(key),
        HERALD_SMTP_PORT=str(port),
    )
    channel = EmailChannel(settings)
    message = channel.render(
        channel.prepare(run_info(subject="Hï {{ contact.first_name }}")), recipient()
    )
    assert channel.send(message).status == "sent"
    channel.close()
    received = recorder.messages[0].data
    asked: list[bytes] = []

    def dns(name: bytes, timeout: int = 5) -> bytes:
        asked.append(name)
        return record

    assert dkim.verify(received, dnsfunc=dns)
    assert asked == [b"herald._domainkey.shop.example."]
    signature = parse(received)["DKIM-Signature"].replace(" ", "").replace("\n", "")
    signed = {h.lower() for h in signature.split("h=")[1].split(";")[0].split(":")}
    assert signed >= {
        "from", "to", "subject", "date", "message-id", "list-unsubscribe",
        "list-unsubscribe-post", "mime-version", "content-type",
    }  # fmt: skip
    assert "d=shop.example" in signature and "s=herald" in signature
    tampered = received.replace(b"<zoe@example.com>", b"<eve@example.com>")
    assert not dkim.verify(tampered, dnsfunc=dns)


def test_the_pool_keeps_one_connection_for_many_messages(tmp_path, smtp_server):
    recorder, port = smtp_server
    channel = EmailChannel(settings_for(tmp_path, HERALD_SMTP_PORT=str(port)))
    prepared = channel.prepare(run_info())
    outcomes = [
        channel.send(channel.render(prepared, recipient(i, f"m{i}@example.com"))) for i in range(5)
    ]
    assert [o.status for o in outcomes] == ["sent"] * 5
    assert outcomes[0].provider_id == parse(recorder.messages[0].data)["Message-ID"]
    assert channel.pool.opened == 1
    channel.close()


def test_a_5xx_recipient_refusal_is_permanent_and_carries_a_hard_bounce(tmp_path, smtp_server):
    recorder, port = smtp_server
    recorder.refuse["gone@example.com"] = "550 5.1.1 No such user"
    channel = EmailChannel(settings_for(tmp_path, HERALD_SMTP_PORT=str(port)))
    outcome = channel.send(
        channel.render(channel.prepare(run_info()), recipient(1, "gone@example.com"))
    )
    assert outcome.status == "permanent"
    assert outcome.event == {
        "type": "bounced",
        "data": {"kind": "hard", "reason": "SMTP 550 at RCPT TO: 5.1.1 No such user", "code": 550},
        "address": "gone@example.com",
    }
    # the connection was reset, not lost: the next message goes over the same one
    assert channel.send(channel.render(channel.prepare(run_info()), recipient(2))).status == "sent"
    assert channel.pool.opened == 1
    channel.close()


def test_a_server_that_is_down_is_a_transient_failure(tmp_path):
    from tests.conftest import free_port

    channel = EmailChannel(settings_for(tmp_path, HERALD_SMTP_PORT=str(free_port())))
    outcome = channel.send(channel.render(channel.prepare(run_info()), recipient()))
    assert outcome.status == "transient"
    assert outcome.reason.startswith("SMTP connection lost before the message was sent")


def test_an_idle_connection_the_server_closed_is_replaced_without_losing_the_message(
    tmp_path, smtp_server
):
    recorder, port = smtp_server
    channel = EmailChannel(settings_for(tmp_path, HERALD_SMTP_PORT=str(port)))
    prepared = channel.prepare(run_info())
    assert channel.send(channel.render(prepared, recipient(1))).status == "sent"
    for smtp in channel.pool._idle:
        smtp.sock.shutdown(socket.SHUT_RDWR)  # as if the server had timed the idle one out
    assert channel.send(channel.render(prepared, recipient(2))).status == "sent"
    assert len(recorder.messages) == 2 and channel.pool.opened == 2
    channel.close()


def test_threads_share_the_pool_without_opening_more_than_its_size(tmp_path, smtp_server):
    import threading

    recorder, port = smtp_server
    channel = EmailChannel(
        settings_for(tmp_path, HERALD_SMTP_PORT=str(port), HERALD_SMTP_POOL_SIZE="2")
    )
    prepared = channel.prepare(run_info())
    outcomes: list[str] = []

    def worker(first: int) -> None:
        for i in range(first, first + 10):
            message = channel.render(prepared, recipient(i, f"m{i}@example.com"))
            outcomes.append(channel.send(message).status)

    threads = [threading.Thread(target=worker, args=(n * 100,)) for n in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    channel.close()
    assert outcomes == ["sent"] * 60
    assert len(recorder.by_recipient()) == 60 and set(recorder.by_recipient().values()) == {1}
    assert channel.pool.opened <= 2


def test_only_the_href_attribute_is_rewritten(tmp_path):
    html = '<a data-href="https://shop.example/keep" href="https://shop.example/go">Go</a>'
    channel = EmailChannel(settings_for(tmp_path))
    body = parse(channel.render(channel.prepare(run_info(html=html)), recipient()).data)
    content = body.get_body(("html",)).get_content()
    assert 'data-href="https://shop.example/keep"' in content
    assert 'href="http://herald.test/t/c/' in content
