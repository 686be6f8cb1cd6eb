"""Tracking links end to end: an email goes out through the ledger to a real SMTP server, then
its pixel, links and unsubscribe link are fetched from the message itself."""

from __future__ import annotations

import email
import email.policy
import re
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import select

from herald.audiences.models import Consent, Event, Suppression
from herald.campaigns.models import Delivery
from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import drain

HUMAN = "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 Version/17.0"
HTML = (
    "<p>Hi {{ contact.first_name }}</p><a href='https://shop.example/sale?x=1&amp;y=2'>Sale</a>"
    "<a href='{{ unsubscribe_url }}'>Unsubscribe</a>"
)


@pytest.fixture
def sent(client, auth, db, tmp_path, database_url, smtp_server) -> dict[str, Any]:
    """One email sent to one member; its links, taken from the received message."""
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    answer = client.post(
        "/api/v1/contacts",
        json={"email": "zoe@example.com", "first_name": "Zoe", "consent": {"email": True}},
        headers=auth,
    )
    assert answer.status_code == 201
    body = {
        "name": "Sale",
        "channel": "email",
        "segment_id": None,
        "variants": [{"name": "A", "subject": "Sale", "html": HTML}],
        "schedule": {"type": "immediate"},
    }
    campaign_id = client.post("/api/v1/campaigns", json=body, headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    message = email.message_from_bytes(recorder.messages[0].data, policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    with db.session() as session:
        delivery = session.scalars(select(Delivery)).one()
    local = lambda url: url.removeprefix("http://herald.test")  # noqa: E731
    return {
        "campaign_id": campaign_id,
        "delivery": delivery,
        "message_id": message["Message-ID"],
        "pixel": local(re.search(r'<img src="([^"]+)"', html)[1]),
        "click": local(re.search(r"href=.(http://herald\.test/t/c/[\w.-]+)", html)[1]),
        "unsubscribe": local(message["List-Unsubscribe"][1:-1]),
    }


def events(db: Any, kind: str) -> list[Event]:
    with db.session() as session:
        return list(session.scalars(select(Event).where(Event.type == kind).order_by(Event.id)))


def later() -> None:
    clock.shift(timedelta(minutes=10))  # past HERALD_MACHINE_EVENT_WINDOW


def test_the_pixel_answers_a_gif_and_records_a_human_open(client, db, sent):
    later()
    answer = client.get(sent["pixel"], headers={"User-Agent": HUMAN})
    assert answer.status_code == 200 and answer.mimetype == "image/gif"
    assert answer.data.startswith(b"GIF89a") and "no-store" in answer.headers["Cache-Control"]
    [event] = events(db, "email.opened")
    delivery = sent["delivery"]
    assert (event.delivery_id, event.run_id, event.campaign_id, event.contact_id) == (
        delivery.id,
        delivery.run_id,
        sent["campaign_id"],
        delivery.contact_id,
    )
    assert event.machine is False


# Real User-Agents as they reach the pixel and links, and what each one is (contract 9, 13)
AGENTS = [
    # mailbox providers' image proxies fetch because the reader opened the message: human
    (
        "gmail proxy",
        "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)",
        "GET",
        False,
    ),
    (
        "yahoo proxy",
        "YahooMailProxy; https://help.yahoo.com/kb/yahoo-mail-proxy-SLN28749.html",
        "GET",
        False,
    ),
    (
        "outlook desktop",
        "Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)",
        "GET",
        False,
    ),
    ("outlook ms-office", "Mozilla/4.0 (compatible; ms-office; MSOffice 16)", "GET", False),
    ("apple mail", HUMAN, "GET", False),
    (
        "iphone mail",
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_4 like Mac OS X) AppleWebKit/605.1.15 "
        "(KHTML, like Gecko) Mobile/15E148",
        "GET",
        False,
    ),
    (
        "chrome webmail",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like "
        "Gecko) Chrome/124.0.0.0 Safari/537.36",
        "GET",
        False,
    ),
    # privacy proxies that fetch every message, and security scanners: machine
    ("apple mail privacy protection", "Mozilla/5.0", "GET", True),
    (
        "microsoft defender scanner",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 "
        "(KHTML, like Gecko) Chrome/42.0.2311.135 Safari/537.36 Edge/12.246 Mozilla/5.0",
        "GET",
        True,
    ),
    (
        "microsoft safe links preview",
        "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36"
        " (KHTML, like Gecko) BingPreview/1.0b",
        "GET",
        True,
    ),
    ("proofpoint", "Mozilla/5.0 (compatible; Proofpoint)", "GET", True),
    ("mimecast", "Mozilla/5.0 (compatible; Mimecast URL Protect)", "GET", True),
    ("barracuda", "Barracuda Sentinel (EE)", "GET", True),
    ("no agent", "", "GET", True),
    ("head request", HUMAN, "HEAD", True),
]


@pytest.mark.parametrize(
    ("agent", "method", "machine"),
    [row[1:] for row in AGENTS],
    ids=[row[0] for row in AGENTS],
)
def test_each_user_agent_is_classified_at_the_pixel(client, db, sent, agent, method, machine):
    later()
    answer = client.open(sent["pixel"], method=method, headers={"User-Agent": agent})
    assert answer.status_code == 200
    assert [e.machine for e in events(db, "email.opened")] == [machine]


@pytest.mark.parametrize(
    ("agent", "method", "machine"),
    [row[1:] for row in AGENTS],
    ids=[row[0] for row in AGENTS],
)
def test_each_user_agent_is_classified_at_a_link(client, db, sent, agent, method, machine):
    later()
    assert (
        client.open(sent["click"], method=method, headers={"User-Agent": agent}).status_code == 302
    )
    assert [e.machine for e in events(db, "email.clicked")] == [machine]


def test_an_open_within_the_machine_window_of_delivery_is_a_machine_open(client, db, sent):
    assert client.get(sent["pixel"], headers={"User-Agent": HUMAN}).status_code == 200
    assert [e.machine for e in events(db, "email.opened")] == [True]


def test_a_click_redirects_302_to_the_target_and_is_recorded(client, db, sent):
    later()
    answer = client.get(sent["click"], headers={"User-Agent": HUMAN})
    assert answer.status_code == 302
    assert answer.headers["Location"] == "https://shop.example/sale?x=1&y=2"
    [event] = events(db, "email.clicked")
    assert event.machine is False and event.data["url"] == "https://shop.example/sale?x=1&y=2"
    assert event.delivery_id == sent["delivery"].id


def test_scanner_and_head_clicks_are_bot_clicks(client, db, sent):
    later()
    client.get(sent["click"], headers={"User-Agent": "Mozilla/5.0 (compatible; Barracuda)"})
    client.head(sent["click"], headers={"User-Agent": HUMAN})
    assert [e.machine for e in events(db, "email.clicked")] == [True, True]


def test_forged_or_altered_tokens_are_404_and_never_redirect(client, db, sent):
    token = sent["click"].rsplit("/", 1)[1]
    payload, signature = token.rsplit(".", 1)
    altered = payload[:-2] + ("A" if payload[-2] != "A" else "B") + payload[-1] + "." + signature
    from itsdangerous import URLSafeSerializer

    wrong_key = URLSafeSerializer("not-the-key", salt="herald.click").dumps([1, "https://evil"])
    for path in (f"/t/c/{altered}", f"/t/c/{wrong_key}", "/t/c/garbage", "/u/garbage"):
        answer = client.get(path)
        assert answer.status_code == 404, path
        assert "Location" not in answer.headers
    assert client.get("/t/o/garbage.gif").status_code == 404
    # an open token is not a click token, nor the other way round
    open_token = sent["pixel"].rsplit("/", 1)[1].removesuffix(".gif")
    assert client.get(f"/t/c/{open_token}").status_code == 404
    assert events(db, "email.clicked") == [] and events(db, "email.opened") == []


def test_stats_count_human_opens_and_clicks_in_the_rates(client, auth, db, sent):
    client.get(sent["pixel"], headers={"User-Agent": HUMAN})  # within the window: machine
    later()
    client.get(sent["pixel"], headers={"User-Agent": HUMAN})
    client.get(sent["pixel"], headers={"User-Agent": HUMAN})
    client.get(sent["click"], headers={"User-Agent": HUMAN})
    client.get(sent["click"], headers={"User-Agent": "python-requests/2.32"})
    stats = client.get(f"/api/v1/campaigns/{sent['campaign_id']}/stats", headers=auth).json
    total = stats["total"]
    assert (total["delivered"], total["unique_opens"], total["opens"], total["machine_opens"]) == (
        1,
        1,
        2,
        1,
    )
    assert (total["unique_clicks"], total["clicks"]) == (1, 1)
    assert total["open_rate"] == 1.0 and total["click_rate"] == 1.0 and total["ctor"] == 1.0


def test_the_unsubscribe_page_confirms_with_a_post_form(client, db, sent):
    answer = client.get(sent["unsubscribe"])
    assert answer.status_code == 200 and answer.mimetype == "text/html"
    page = answer.get_data(as_text=True)
    assert f'<form method="post" action="{sent["unsubscribe"]}">' in page
    assert events(db, "unsubscribed") == []


def test_one_click_unsubscribe_revokes_consent_suppresses_and_records_once(client, auth, db, sent):
    for _ in range(2):
        answer = client.post(
            sent["unsubscribe"],
            data="List-Unsubscribe=One-Click",
            content_type="application/x-www-form-urlencoded",
        )
        assert answer.status_code == 200
    [event] = events(db, "unsubscribed")
    assert event.delivery_id == sent["delivery"].id and event.campaign_id == sent["campaign_id"]
    with db.session() as session:
        consent = session.get(Consent, (sent["delivery"].contact_id, "email"))
        assert consent is not None and consent.granted is False
        [row] = session.scalars(select(Suppression))
        assert (row.channel, row.address, row.reason) == ("email", "zoe@example.com", "unsubscribe")
    stats = client.get(f"/api/v1/campaigns/{sent['campaign_id']}/stats", headers=auth).json
    assert stats["total"]["unsubscribes"] == 1 and stats["total"]["unsubscribe_rate"] == 1.0


def test_the_machine_rule_on_its_own():
    from datetime import UTC, datetime

    from herald.campaigns.machine import is_machine_event

    now = datetime(2026, 11, 11, 10, 0, 10, tzinfo=UTC)
    window = timedelta(seconds=2)
    sent = now - timedelta(seconds=5)
    assert not is_machine_event(HUMAN, sent, now, window)
    assert is_machine_event(HUMAN, now - timedelta(seconds=1), now, window)
    assert is_machine_event(HUMAN, None, now, window)  # the row is not even closed yet
    assert not is_machine_event(HUMAN, now, now, timedelta(0))  # "0" turns the window off
    assert is_machine_event(HUMAN, sent, now, window, method="HEAD")
    assert is_machine_event("Mozilla/5.0 (compatible; bingbot/2.0)", sent, now, window)
    assert not is_machine_event(
        "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Mobile/15E148", sent, now, window
    )


@pytest.mark.parametrize(
    ("name", "value"), [("hard_bounce_limit", "0"), ("email_rate", "fast"), ("email_rate", "-1")]
)
def test_a_malformed_email_setting_stops_every_process_at_start(tmp_path, name, value):
    from herald.core.settings import ConfigError

    # Settings.from_env is the first thing web, worker and scheduler do
    with pytest.raises(ConfigError, match=f"^HERALD_{name.upper()}: "):
        make_settings(tmp_path, f"sqlite:///{tmp_path / 'h.db'}", **{name: value})


@pytest.mark.parametrize(
    "target",
    [
        "https://shop.example/x\r\nSet-Cookie: a=b",
        "https://shop.example/a b",
        "https://shop.example/\ttab",
        "https://shop.example/\x00nul",
        "https://shop.example/\x7f",
        "https://shop.example/\u2028",
    ],
)
def test_a_signed_click_target_with_whitespace_or_controls_is_a_404(client, app, target):
    from herald.templating.tracking import make_token

    secret = app.extensions["herald.settings"].secret_key
    answer = client.get("/t/c/" + make_token(secret, "click", [1, target]))
    assert answer.status_code == 404
    assert "Location" not in answer.headers


@pytest.mark.parametrize(
    ("target", "cleaned"),
    [
        (" https://shop.example/a b\n", "https://shop.example/a%20b"),
        ("https://shop.example/x\r\nSet-Cookie: a=b", "https://shop.example/xSet-Cookie:%20a=b"),
        ("https://shop.example/\x00\u2028", "https://shop.example/%00%E2%80%A8"),
        ("https://shop.example/sale?x=1&y=2", "https://shop.example/sale?x=1&y=2"),
    ],
)
def test_link_rewriting_never_signs_whitespace_or_controls(client, app, target, cleaned):
    from herald.templating.tracking import click_url, read_click

    secret = app.extensions["herald.settings"].secret_key
    url = click_url("http://herald.test", secret, 1, target)
    token = url.rsplit("/", 1)[1]
    assert read_click(secret, token) == (1, cleaned)
    answer = client.get("/t/c/" + token, headers={"User-Agent": HUMAN})
    assert answer.status_code == 302 and answer.headers["Location"] == cleaned


@pytest.mark.parametrize("delivery_id", [2**70, 2**31, -1, 0, True])
def test_tokens_with_ids_beyond_the_database_range_are_a_404(client, app, delivery_id):
    from herald.templating.tracking import make_token

    secret = app.extensions["herald.settings"].secret_key
    paths = [
        "/t/o/" + make_token(secret, "open", delivery_id) + ".gif",
        "/t/c/" + make_token(secret, "click", [delivery_id, "https://shop.example/x"]),
        "/u/" + make_token(secret, "unsubscribe", delivery_id),
    ]
    for path in paths:
        assert client.get(path).status_code == 404, path
    assert client.post(paths[2]).status_code == 404


@pytest.mark.parametrize(
    "headers",
    [
        {"Referer": "http://herald.test/"},  # the admin outbox's sandboxed frame sends the origin
        {"Referer": "http://herald.test/admin/outbox/1-2.eml"},
        {"X-Herald-Preview": "1"},
    ],
)
def test_the_admins_own_pages_never_count_an_open_or_a_click(client, auth, db, sent, headers):
    later()
    assert client.get(sent["pixel"], headers={"User-Agent": HUMAN, **headers}).status_code == 200
    assert client.get(sent["click"], headers={"User-Agent": HUMAN, **headers}).status_code == 302
    assert events(db, "email.opened") == [] and events(db, "email.clicked") == []
    # a webmail page of another origin is a reader
    client.get(sent["pixel"], headers={"User-Agent": HUMAN, "Referer": "https://mail.example/"})
    assert [e.machine for e in events(db, "email.opened")] == [False]
