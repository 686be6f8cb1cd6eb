"""The admin in a real Chromium (Playwright) against a live server: log in, create a campaign
through the form, press Send now and watch the progress bar fill without reloading."""

from __future__ import annotations

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from herald.audiences import contacts
from herald.audiences.models import Segment
from herald.core.accounts import create_user
from tests.conftest import make_settings
from tests.web.screenshots import CHROMIUM, VIEWPORT, chromium, live_server, log_in, sending

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; no browser downloads)",
    ),
]

PASSWORD = "browser-test-pass"
MEMBERS = 24


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only: the admin's SQL is covered on both by test_admin.py."""
    return "sqlite"


@pytest.fixture
def shop(db: Any) -> int:
    """A marketer, members (two without consent) and a segment; returns the segment id."""
    with db.session() as session:
        create_user(session, "marketer@example.com", PASSWORD, "marketer")
        for i in range(MEMBERS):
            contacts.upsert(
                session,
                {
                    "external_id": f"b{i}",
                    "email": f"buyer{i}@example.com",
                    "first_name": f"Buyer{i}",
                    "tier": "gold",
                    "consent": {"email": i >= 2},
                },
                source="test",
            )
        segment = Segment(name="Gold buyers", rules={"field": "tier", "op": "eq", "value": "gold"})
        session.add(segment)
        session.flush()
        return segment.id


def test_a_marketer_creates_and_sends_a_campaign_and_watches_its_progress(
    app, db, shop, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    send_settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="4")
    with (
        live_server(app) as base,
        chromium() as browser,
        sending(db, send_settings, pause=0.25),
    ):
        page = browser.new_page(viewport=VIEWPORT)
        page.goto(f"{base}/admin/campaigns/")
        assert "/admin/login" in page.url
        log_in(page, base, "marketer@example.com", PASSWORD)
        assert page.locator("h4", has_text="Dashboard").is_visible()

        page.goto(f"{base}/admin/campaigns/new/")
        page.fill("#name", "Browser sale")
        page.select_option("#segment_id", str(shop))
        page.fill("#subject", "Hi {{ contact.first_name }}")
        page.fill("#html", "<p>Hello {{ contact.first_name }</p>")
        page.click("input[type=submit][value=Save]")
        assert "html (line 1)" in page.content()  # the template error, on its field

        page.fill("#html", "<p>Hello {{ contact.first_name }}</p>")
        page.click("input[type=submit][value=Save]")
        page.wait_for_url(re.compile(r".*/admin/campaigns/\d+/$"))
        assert page.text_content("#campaign-status") == "draft"
        assert page.inner_text("#progress-percent") == "0.0%"

        page.click("#action-send-now")
        page.wait_for_url(re.compile(r".*/admin/campaigns/\d+/$"))
        page.evaluate("window.heraldMarker = 'same page'")
        # locator waits, not wait_for_function: the CSP refuses the eval that one needs
        expect(page.locator("#progress-percent")).to_have_text("100.0%", timeout=30_000)
        expect(page.locator("#campaign-status")).to_have_text("sent", timeout=10_000)
        # the page updated itself by polling: it was never reloaded
        assert page.evaluate("window.heraldMarker") == "same page"
        assert page.inner_text("[data-stat=sent]") == str(MEMBERS - 2)
        assert page.inner_text("[data-stat=skipped]") == "2"
        assert page.inner_text("#progress-done") == str(MEMBERS)
        assert page.locator("#progress-chart rect[data-bar=sent]").count() == 1
        assert page.locator("form[data-action=send-now]").is_hidden()
        assert "sent" in (page.text_content("#runs-list") or "")

        page.click("text=Delivery ledger")
        assert "buyer5@example.com" in page.content()
        assert "no consent" in page.content()
    assert len(recorder.messages) == MEMBERS - 2


def test_the_segment_preview_updates_while_typing(app, db, shop):
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/segments/edit/?id={shop}")
        expect(page.locator("#segment-count")).to_have_text("24")
        page.click("#segment-json-toggle")  # the raw JSON sits behind the rule builder's toggle
        page.fill("#rules_json", '{"field": "email", "op": "eq", "value": "buyer3@example.com"}')
        expect(page.locator("#segment-count")).to_have_text("1")
        assert "buyer3@example.com" in page.inner_text("#segment-sample")
        page.fill("#rules_json", '{"field": "shoe_size", "op": "eq", "value": 1}')
        page.wait_for_selector("#segment-error:not(.d-none)")
        assert "shoe_size" in page.inner_text("#segment-error")
