"""Bounces and complaints: RFC 3464 DSNs and RFC 5965 feedback reports parsed, and the signed
``POST /webhooks/email/events`` intake turning them into events and suppressions."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from herald.audiences.models import Event, Suppression
from herald.campaigns.models import Delivery
from herald.channels.dsn import Report, parse_dsn
from herald.web.webhooks.email import sign
from tests.conftest import make_settings
from tests.helpers import drain

SECRET = "whsec_" + "c2VjcmV0LWZvci1lbWFpbC1ldmVudHMtdGVzdHM="


def dsn(message_id: str, recipient: str = "gone@example.com", status: str = "5.1.1") -> bytes:
    action = "failed" if status.startswith("5") else "delayed"
    return f"""From: MAILER-DAEMON@mx.example.net
To: marketing@example.com
Subject: Undelivered Mail Returned to Sender
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="B1"

--B1
Content-Type: text/plain

This is the mail system at host mx.example.net. Your message could not be delivered.

--B1
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.example.net
Arrival-Date: Tue, 24 Nov 2026 22:00:00 +0000

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; 550 {status} <{recipient}>: Recipient address
    rejected: User unknown

--B1
Content-Type: text/rfc822-headers

From: Herald <marketing@example.com>
To: {recipient}
Subject: Sale
Message-ID: {message_id}

--B1--
""".replace("\n", "\r\n").encode()


ARF = b"""From: feedback@mail.example.org
To: abuse@example.com
Subject: FW: Sale
MIME-Version: 1.0
Content-Type: multipart/report; report-type=feedback-report; boundary="F"

--F
Content-Type: text/plain

This is an email abuse report.

--F
Content-Type: message/feedback-report

Feedback-Type: abuse
User-Agent: SomeGenerator/1.0
Version: 1
Original-Rcpt-To: <zoe@example.com>

--F
Content-Type: message/rfc822

From: Herald <marketing@example.com>
To: zoe@example.com
Subject: Sale
Message-ID: <9.3.heraldabc@example.com>

Hello
--F--
"""


def test_parse_dsn_reads_failed_recipients_with_status_and_the_original_message_id():
    assert parse_dsn(dsn("<1.2.heraldx@example.com>")) == [
        Report(
            "bounce",
            "gone@example.com",
            "<1.2.heraldx@example.com>",
            "hard",
            "5.1.1 smtp; 550 5.1.1 <gone@example.com>: Recipient address rejected: User unknown",
        )
    ]


def test_parse_dsn_treats_a_delay_as_a_soft_bounce():
    [report] = parse_dsn(dsn("<1@x>", status="4.4.1"))
    assert (report.kind, report.reason.split()[0]) == ("soft", "4.4.1")


def test_parse_dsn_reads_a_feedback_report_as_a_complaint():
    assert parse_dsn(ARF) == [
        Report(
            "complaint",
            "zoe@example.com",
            "<9.3.heraldabc@example.com>",
            "abuse",
            "feedback report: abuse",
        )
    ]


def _sent(client: Any, auth: Any, db: Any, tmp_path: Any, database_url: str, port: int) -> Any:
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    client.post(
        "/api/v1/contacts",
        json={"email": "gone@example.com", "consent": {"email": True}},
        headers=auth,
    )
    body = {
        "name": "Sale",
        "channel": "email",
        "segment_id": None,
        "variants": [{"name": "A", "subject": "Sale", "html": "<p>Sale</p>"}],
        "schedule": {"type": "immediate"},
    }
    campaign_id = client.post("/api/v1/campaigns", json=body, headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    with db.session() as session:
        return session.scalars(select(Delivery)).one()


def _post(client: Any, body: bytes, content_type: str = "application/json", **headers: str):
    signed = {**sign(SECRET, "msg_1", body), "Content-Type": content_type, **headers}
    return client.post("/webhooks/email/events", data=body, headers=signed)


def test_a_signed_bounce_event_by_message_id_records_a_bounce_and_suppresses(
    app, client, auth, db, tmp_path, database_url, smtp_server
):
    app.extensions["herald.settings"].extra["HERALD_EMAIL_EVENTS_SECRET"] = SECRET
    delivery = _sent(client, auth, db, tmp_path, database_url, smtp_server[1])
    body = json.dumps(
        {
            "events": [
                {
                    "type": "bounce",
                    "email": "gone@example.com",
                    "message_id": delivery.provider_id,
                    "kind": "hard",
                    "reason": "550 5.1.1 user unknown",
                },
                {"type": "complaint", "email": "nobody-we-know@example.com"},
            ]
        }
    ).encode()
    answer = _post(client, body)
    assert answer.status_code == 200 and answer.json == {"accepted": 2, "unmatched": 1}
    again = _post(client, body)  # the same webhook-id: no second effect
    assert again.status_code == 200 and again.json["duplicate"] is True
    resent = client.post(  # the same report under a new webhook-id: still one event
        "/webhooks/email/events", data=body, headers=sign(SECRET, "msg_other", body)
    )
    assert resent.status_code == 200 and resent.json["accepted"] == 2
    with db.session() as session:
        [event] = session.scalars(select(Event).where(Event.type == "bounced"))
        assert (event.delivery_id, event.run_id, event.data["kind"]) == (
            delivery.id,
            delivery.run_id,
            "hard",
        )
        rows = {(s.address, s.reason) for s in session.scalars(select(Suppression))}
    assert rows == {
        ("gone@example.com", "hard_bounce"),
        ("nobody-we-know@example.com", "complaint"),
    }
    stats = client.get("/api/v1/campaigns/1/stats", headers=auth).json["total"]
    assert (stats["sent"], stats["bounced"], stats["delivered"]) == (1, 1, 0)


def test_a_raw_dsn_is_accepted_at_the_same_url(
    app, client, auth, db, tmp_path, database_url, smtp_server
):
    app.extensions["herald.settings"].extra["HERALD_EMAIL_EVENTS_SECRET"] = SECRET
    delivery = _sent(client, auth, db, tmp_path, database_url, smtp_server[1])
    answer = _post(client, dsn(delivery.provider_id), "message/rfc822")
    assert answer.status_code == 200 and answer.json == {"accepted": 1, "unmatched": 0}
    with db.session() as session:
        [event] = session.scalars(select(Event).where(Event.type == "bounced"))
        assert event.delivery_id == delivery.id


def test_unsigned_badly_signed_or_stale_requests_are_refused(app, client):
    app.extensions["herald.settings"].extra["HERALD_EMAIL_EVENTS_SECRET"] = SECRET
    body = b'{"events": []}'
    assert client.post("/webhooks/email/events", data=body).status_code == 401
    headers = sign(SECRET, "msg_2", body)
    assert client.post("/webhooks/email/events", data=body + b" ", headers=headers).status_code == (
        401
    )
    stale = sign(SECRET, "msg_3", body, stamp=1_000_000_000)
    assert client.post("/webhooks/email/events", data=body, headers=stale).status_code == 401
    assert client.post("/webhooks/email/events", data=body, headers=headers).status_code == 200


def test_malformed_and_invalid_bodies_are_400_and_422(app, client):
    app.extensions["herald.settings"].extra["HERALD_EMAIL_EVENTS_SECRET"] = SECRET
    assert _post(client, b"not json").status_code == 400
    answer = _post(client, b'{"events": [{"type": "delivered", "email": "a@b.c"}]}')
    assert answer.status_code == 422
    assert answer.json["error"]["fields"] == {"events.0.type": "must be bounce or complaint"}


def test_the_cli_feeds_dsn_files(
    client, auth, db, tmp_path, database_url, smtp_server, monkeypatch
):
    from click.testing import CliRunner

    from herald.cli import main

    delivery = _sent(client, auth, db, tmp_path, database_url, smtp_server[1])
    report = tmp_path / "bounce.eml"
    report.write_bytes(dsn(delivery.provider_id))
    junk = tmp_path / "junk.eml"
    junk.write_bytes(b"Subject: hi\r\n\r\nhello\r\n")
    for key, value in {
        "HERALD_DATABASE_URL": database_url,
        "HERALD_SECRET_KEY": "test-secret-key",
        "HERALD_INSTANCE_PATH": str(tmp_path / "instance"),
    }.items():
        monkeypatch.setenv(key, value)
    result = CliRunner().invoke(main, ["email", "dsn", str(report)])
    assert result.exit_code == 0, result.output
    assert "bounce (hard) gone@example.com: 5.1.1" in result.output and "[matched]" in result.output
    with db.session() as session:
        [event] = session.scalars(select(Event).where(Event.type == "bounced"))
        assert event.delivery_id == delivery.id
    result = CliRunner().invoke(main, ["email", "dsn", str(junk)])
    assert result.exit_code == 1


def test_too_many_events_are_refused_whole_never_cut_short(app, client, db):
    from herald.web.webhooks.email import MAX_EVENTS

    app.extensions["herald.settings"].extra["HERALD_EMAIL_EVENTS_SECRET"] = SECRET
    event = {"type": "complaint", "email": "someone@example.com"}
    body = json.dumps({"events": [event] * (MAX_EVENTS + 1)}).encode()
    answer = _post(client, body)
    assert answer.status_code == 422
    assert "events" in answer.json["error"]["fields"]
    with db.session() as session:
        assert session.scalars(select(Suppression)).all() == []
    # nothing was recorded under that webhook-id: the sender may split and resend
    body = json.dumps({"events": [event] * MAX_EVENTS}).encode()
    assert _post(client, body).json == {"accepted": MAX_EVENTS, "unmatched": MAX_EVENTS}


def test_a_webhook_id_too_long_to_store_is_a_400_never_truncated(app, client):
    app.extensions["herald.settings"].extra["HERALD_EMAIL_EVENTS_SECRET"] = SECRET
    body = b'{"events": [{"type": "complaint", "email": "a@example.com"}]}'
    for webhook_id in ("x" * 256, "x" * 255 + "y"):
        answer = client.post(
            "/webhooks/email/events", data=body, headers=sign(SECRET, webhook_id, body)
        )
        assert answer.status_code == 400
        assert "webhook-id" in answer.json["error"]["fields"]
    longest = client.post(
        "/webhooks/email/events", data=body, headers=sign(SECRET, "x" * 255, body)
    )
    assert longest.status_code == 200 and "duplicate" not in longest.json
