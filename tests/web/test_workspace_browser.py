"""The marketer's workspace in a real Chromium against a live server: a sent campaign's results
(funnel, variants, revenue after a signed order webhook) and the clicker's timeline, a trigger made
in the admin firing from a signed shop webhook, and every admin page for every role with no
console error and no 5xx."""

from __future__ import annotations

import base64
import email
import email.policy
import json
import re
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select
from standardwebhooks import Webhook

from herald.audiences import contacts, lists, suppression
from herald.audiences.models import Contact
from herald.campaigns import service
from herald.campaigns.models import Campaign
from herald.core.accounts import create_user
from herald.core.settings import Settings
from herald.journeys import triggers
from tests.conftest import make_settings
from tests.helpers import drain
from tests.web.screenshots import (
    CHROMIUM,
    VIEWPORT,
    chromium,
    live_server,
    log_in,
    sending,
    wait_js,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; no browser downloads)",
    ),
]

PASSWORD = "workspace-browser-pass"
KEY = b"a shop webhook key of 32 bytes!!"
SECRET = "whsec_" + base64.b64encode(KEY).decode()
ROLES = ("admin", "marketer", "viewer")
LINK = "https://shop.example/sale"


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite; the pages' SQL runs on both in test_admin_workspace.py."""
    return "sqlite"


@pytest.fixture
def smtp(smtp_server: Any) -> Any:
    return smtp_server


@pytest.fixture
def settings(tmp_path: Path, database_url: str, smtp: Any) -> Settings:
    _, port = smtp
    return make_settings(
        tmp_path,
        database_url,
        smtp_port=str(port),
        batch_size="5",
        shop_webhook_secret=SECRET,
        machine_event_window="0",
    )


@pytest.fixture
def people(db: Any) -> dict[str, str]:
    """A user per role and twelve gold members with email consent."""
    with db.session() as session:
        for role in ROLES:
            create_user(session, f"{role}@example.com", PASSWORD, role)
        for i in range(12):
            contacts.upsert(
                session,
                {
                    "external_id": f"g{i}",
                    "email": f"gold{i}@example.com",
                    "first_name": f"Gold{i}",
                    "tier": "gold",
                    "consent": {"email": True},
                },
                source="signup form",
            )
    return {role: f"{role}@example.com" for role in ROLES}


def _signed(page: Any, base: str, body: dict[str, Any], webhook_id: str) -> int:
    raw = json.dumps(body)
    moment = datetime.now(UTC)
    answer = page.request.post(
        f"{base}/webhooks/shop",
        data=raw,
        headers={
            "webhook-id": webhook_id,
            "webhook-timestamp": str(int(moment.timestamp())),
            "webhook-signature": Webhook(SECRET).sign(webhook_id, moment, raw),
            "content-type": "application/json",
        },
    )
    return answer.status


def _watch(page: Any) -> tuple[list[str], list[str]]:
    """Collect console errors and 5xx answers while the page is used."""
    errors: list[str] = []
    failures: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on(
        "response",
        lambda r: failures.append(f"{r.status} {r.url}") if r.status >= 500 else None,
    )
    return errors, failures


def _wait(predicate: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.2)


def _tracking_links(raw: bytes) -> tuple[str, str]:
    message = email.message_from_bytes(raw, policy=email.policy.default)
    html = message.get_body(("html",)).get_content()
    pixel = re.search(r'http://herald\.test(/t/o/[^"]+\.gif)', html)
    click = re.search(r'http://herald\.test(/t/c/[^"]+)"', html)
    assert pixel and click, html
    return pixel.group(1), click.group(1)


def test_a_marketer_reads_a_sent_campaigns_results_and_a_clickers_timeline(
    app, db, settings, people, smtp
):
    recorder, _ = smtp
    with db.session() as session:
        campaign = service.create_campaign(
            session,
            {
                "name": "Gold week",
                "channel": "email",
                "variants": [
                    {
                        "name": "A",
                        "subject": "Gold week, {{ contact.first_name }}",
                        "html": f'<p>Hi</p><a href="{LINK}">Shop</a>',
                    },
                    {
                        "name": "B",
                        "subject": "Your gold week",
                        "html": f'<p>Hello</p><a href="{LINK}">Shop now</a>',
                    },
                ],
                "schedule": {"type": "immediate"},
            },
            ZoneInfo("UTC"),
        )
        campaign_id = campaign.id
    with live_server(app) as base, chromium() as browser, sending(db, settings):
        page = browser.new_page(viewport=VIEWPORT)
        errors, failures = _watch(page)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/campaigns/{campaign_id}/")
        page.click("#action-send-now")
        wait_js(
            page,
            "document.getElementById('campaign-status').textContent === 'sent'",
            timeout=30_000,
        )
        assert "bg-success" in page.get_attribute("#progress-bar", "class")

        # one member opens and clicks (as a mail client would), then orders: a signed webhook
        _wait(lambda: len(recorder.messages) == 12)
        message = next(m for m in recorder.messages if m.recipients == ["gold3@example.com"])
        pixel, click = _tracking_links(message.data)
        browser_ua = {"user-agent": "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/120"}
        assert page.request.get(base + pixel, headers=browser_ua).status == 200
        redirect = page.request.get(base + click, headers=browser_ua, max_redirects=0)
        assert redirect.status == 302 and redirect.headers["location"] == LINK
        order = {
            "type": "order.placed",
            "data": {
                "order": {
                    "id": "o-77",
                    "customer_external_id": "g3",
                    "total": "120.50",
                    "currency": "CNY",
                    "items": [],
                }
            },
        }
        assert _signed(page, base, order, "msg-order-77") == 200

        page.goto(f"{base}/admin/campaigns/{campaign_id}/")
        page.click("#results-link")
        page.wait_for_url(f"{base}/admin/results/{campaign_id}/")
        assert page.inner_text("[data-stat=recipients]") == "12"
        assert page.inner_text("[data-stat=sent]") == "12"
        assert page.inner_text("[data-stat=unique_opens]") == "1"
        assert page.inner_text("[data-stat=unique_clicks]") == "1"
        assert page.inner_text("[data-stat=conversions]") == "1"
        assert page.inner_text("[data-stat=revenue]") == "120.50"
        assert page.locator("#funnel svg[aria-label]").count() == 1
        assert "revenue 120.50" in page.inner_text("#funnel")
        assert page.locator("#curve svg").count() == 1
        assert page.locator("#variants svg").count() == 1
        rows = page.locator("#variants-table tbody tr")
        assert rows.count() == 2
        assert sorted(rows.nth(i).inner_text().split()[0] for i in range(2)) == ["A", "B"]
        assert "120.50" in page.inner_text("#variants-table")
        assert LINK in page.inner_text("#top-links")
        assert "Every row went out" in page.inner_text("#not-sent")

        # the clicker's page: consent with its source, the timeline and the message's outcome
        with db.session() as session:
            member_id = session.scalar(select(Contact.id).where(Contact.external_id == "g3"))
        page.goto(f"{base}/admin/contacts/")
        page.click(f"a[href='/admin/members/{member_id}/'] >> nth=0")
        page.wait_for_url(f"{base}/admin/members/{member_id}/")
        assert "signup form" in page.inner_text("#consent")
        timeline = page.inner_text("#timeline")
        assert "ordered o-77 for 120.5" in timeline
        assert f"clicked {LINK}" in timeline and "email.opened" in timeline
        messages = page.inner_text("#messages")
        assert "Gold week (A)" in messages and "sent" in messages.lower()
        assert "clicked, opened" in messages
        assert errors == [] and failures == []


def test_a_trigger_made_in_the_admin_fires_from_a_signed_shop_webhook(
    app, db, settings, people, smtp
):
    recorder, _ = smtp
    with live_server(app) as base, chromium() as browser, sending(db, settings):
        page = browser.new_page(viewport=VIEWPORT)
        errors, failures = _watch(page)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/triggers/")
        page.click("#new-trigger")
        page.fill("#name", "Cart reminder")
        page.select_option("#event", "cart.abandoned")
        page.fill("#delay_minutes", "0")
        page.select_option("#cancel_on", "order.placed")
        page.fill("#subject", "{{ contact.first_name }}, your cart is waiting")
        page.fill("#html", '<p>Still thinking?</p><a href="https://shop.example/cart">Cart</a>')
        assert page.locator("#body").is_hidden()  # the SMS field belongs to the other channel
        page.click("#save-trigger")
        page.wait_for_url(re.compile(r".*/admin/triggers/\d+/$"))
        assert page.inner_text("[data-stat=recipients]") == "0"

        cart = {
            "type": "cart.abandoned",
            "data": {
                "cart": {
                    "id": "c-5",
                    "customer_external_id": "g5",
                    "total": 59,
                    "url": "https://shop.example/cart/c-5",
                    "items": [],
                }
            },
        }
        assert _signed(page, base, cart, "msg-cart-5") == 200
        _wait(lambda: len(recorder.messages) == 1)
        assert recorder.messages[0].recipients == ["gold5@example.com"]
        parsed = email.message_from_bytes(recorder.messages[0].data, policy=email.policy.default)
        assert parsed["Subject"] == "Gold5, your cart is waiting"

        page.reload()
        wait_js(
            page, "document.querySelector('[data-stat=sent]').textContent === '1'", timeout=10_000
        )
        assert page.inner_text("[data-stat=recipients]") == "1"
        page.goto(f"{base}/admin/triggers/")
        row = page.locator("#triggers-table tbody tr")
        assert row.count() == 1 and "Cart reminder" in row.inner_text()
        assert row.locator("[data-stat=sent]").inner_text() == "1"
        page.click("#triggers-table button[id^=toggle-]")  # switch it off
        assert page.inner_text("#triggers-table button[id^=toggle-]") == "Off"
        assert errors == [] and failures == []


def _fill_every_page(db: Any, settings: Settings) -> dict[str, int]:
    """One of everything the admin shows, so every page has something to draw."""
    with db.session() as session:
        campaign = service.create_campaign(
            session,
            {
                "name": "Everything",
                "channel": "email",
                "variants": [{"name": "A", "subject": "Hi", "html": f'<a href="{LINK}">x</a>'}],
                "schedule": {"type": "immediate"},
            },
            ZoneInfo("UTC"),
        )
        service.send_now(session, campaign)
        trigger = triggers.create_trigger(
            session,
            {
                "name": "Welcome",
                "event": "customer.created",
                "channel": "email",
                "variants": [{"name": "A", "subject": "Welcome", "html": "<p>Hi</p>"}],
            },
            ZoneInfo("UTC"),
        )
        made = lists.create(session, "VIP")
        lists.add(session, made.id, emails=["gold1@example.com"])
        suppression.suppress(session, "email", "gone@example.com", "hard_bounce", "550")
        ids = {"campaign": campaign.id, "trigger": trigger.id, "list": made.id}
    drain(db, settings)
    with db.session() as session:
        ids["member"] = session.scalar(select(Contact.id).where(Contact.external_id == "g1"))
        assert session.get(Campaign, ids["campaign"]).status == "sent"
    return ids


def test_every_admin_page_answers_every_role_without_errors(app, db, settings, people):
    ids = _fill_every_page(db, settings)
    details = [
        f"/admin/campaigns/{ids['campaign']}/",
        f"/admin/campaigns/{ids['campaign']}/deliveries/",
        f"/admin/results/{ids['campaign']}/",
        f"/admin/members/{ids['member']}/",
        f"/admin/triggers/{ids['trigger']}/",
        f"/admin/lists/{ids['list']}/",
        "/admin/contacts/details/?id=" + str(ids["member"]),
        "/admin/reports/?week=2026-W47",
        "/admin/outbox/?q=nothing",
        "/admin/suppressions/?channel=email&reason=hard_bounce",
    ]
    writes = [
        "/admin/triggers/new/",
        f"/admin/triggers/{ids['trigger']}/edit/",
        "/admin/campaigns/new/",
        "/admin/contacts/new/",
    ]
    expected_4xx = {
        "/admin/reports/weekly.csv?week=bad": 400,
        "/admin/no-such-page/": 404,
        "/admin/results/999999/": 404,
    }
    with live_server(app) as base, chromium() as browser:
        for role in ROLES:
            context = browser.new_context(viewport=VIEWPORT)
            page = context.new_page()
            errors, failures = _watch(page)
            log_in(page, base, f"{role}@example.com", PASSWORD)
            menu = page.eval_on_selector_all(
                "nav a[href^='/admin']", "links => links.map(a => a.getAttribute('href'))"
            )
            menu = [m for m in dict.fromkeys(menu) if m not in ("/admin/", "#")]
            assert {"/admin/triggers/", "/admin/lists/", "/admin/suppressions/"} <= set(menu)
            (role == "admin") == ("/admin/users/" in menu) or pytest.fail(f"{role}: {menu}")
            visited: dict[str, int] = {}
            for path in ["/admin/", *menu, *details, *writes, *expected_4xx]:
                answer = page.goto(base + path)
                visited[path] = answer.status
                headings = page.eval_on_selector_all(
                    "h1, h2, h3, h4", "hs => hs.map(h => h.textContent.trim())"
                )
                assert len(headings) == len(set(headings)), f"{role} {path}: {headings}"
                if answer.status >= 400:
                    # an error is a page in the admin's layout with a way back
                    assert page.locator("#error-home").count() == 1, f"{role} {path}"
                    assert page.locator("nav.navbar").count() >= 1
            # the weekly report's frame grows to its content: no chart or table is clipped
            page.goto(base + "/admin/reports/?week=2026-W47")
            wait_js(
                page,
                "(() => { const f = document.querySelector('iframe[data-fit-content]');"
                " const d = f.contentDocument; return d && d.readyState === 'complete'"
                " && f.clientHeight >= d.documentElement.scrollHeight; })()",
                timeout=10_000,
            )
            for path, code in expected_4xx.items():
                assert visited[path] == code, f"{role} {path}: {visited[path]}"
            for path in writes:
                wanted = 403 if role == "viewer" else 200
                assert visited[path] == wanted, f"{role} {path}: {visited[path]}"
            others = {p: s for p, s in visited.items() if p not in expected_4xx and p not in writes}
            assert all(s == 200 for s in others.values()), f"{role}: {others}"
            # Chromium reports every 4xx document as a console error; those are asked for
            unexpected = [e for e in errors if not re.search(r"status of 4\d\d", e)]
            assert unexpected == [] and failures == [], f"{role}: {unexpected} {failures}"
            icon = page.request.get(base + "/favicon.ico")
            assert icon.status == 200
            context.close()
