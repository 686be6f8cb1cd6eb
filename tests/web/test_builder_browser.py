"""The marketer's workspace in a real Chromium (Playwright) against a live server: build and send
an A/B email campaign with the visual editor, build an SMS campaign, a social post and a member
day, schedule once / recurring / local time and find them on the calendar, preview for a member,
send a test, and see a template error refused at its field. Every test fails if a page logs a
console error or the server answers 5xx."""

from __future__ import annotations

import email
import email.policy
import re
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from sqlalchemy import select

from herald.audiences import contacts
from herald.audiences.models import Contact, Segment
from herald.campaigns.models import Campaign
from herald.core.accounts import create_user
from herald.web.app import create_app
from tests.conftest import make_settings
from tests.web.screenshots import (
    CHROMIUM,
    SCREENSHOTS,
    VIEWPORT,
    chromium,
    live_server,
    log_in,
    sending,
)

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; no browser downloads)",
    ),
]

PASSWORD = "workspace-test-pass"
MEMBERS = 12


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only: the SQL is covered on both by the API tests."""
    return "sqlite"


@pytest.fixture
def shop(db: Any) -> int:
    """A marketer, gold and silver members with emails and phones, a segment of the gold ones."""
    with db.session() as session:
        create_user(session, "marketer@example.com", PASSWORD, "marketer")
        for i in range(MEMBERS):
            contacts.upsert(
                session,
                {
                    "external_id": f"w{i}",
                    "email": f"member{i}@example.com",
                    "phone": f"+861380013{8000 + i}",
                    "first_name": f"Mei{i}",
                    "tier": "gold" if i % 2 == 0 else "silver",
                    "consent": {"email": True, "sms": True},
                },
                source="test",
            )
        segment = Segment(name="Gold members", rules={"field": "tier", "op": "eq", "value": "gold"})
        session.add(segment)
        session.flush()
        return segment.id


class Watch:
    """Console errors, uncaught page errors and 5xx answers seen by a page."""

    def __init__(self, page: Any) -> None:
        self.problems: list[str] = []
        page.on(
            "console",
            lambda m: self.problems.append(f"console {m.type}: {m.text} at {m.location}")
            if m.type == "error"
            else None,
        )
        page.on("pageerror", lambda e: self.problems.append(f"page error: {e}"))
        page.on(
            "response",
            lambda r: self.problems.append(f"{r.status} from {r.url}") if r.status >= 500 else None,
        )


@contextmanager
def marketer(app: Any) -> Iterator[tuple[Any, str]]:
    """A logged-in marketer's page on a live server; fails on console errors and 5xx."""
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        watch = Watch(page)
        log_in(page, base, "marketer@example.com", PASSWORD)
        yield page, base
        page.wait_for_timeout(300)  # late answers of the last action
        assert watch.problems == []


def wait_preview(page: Any, selector: str, text: str) -> None:
    """Wait until ``selector`` shows ``text``; on a timeout, say what it showed instead."""
    try:
        page.wait_for_function(
            "([s, t]) => (document.querySelector(s).textContent || '').includes(t)",
            arg=[selector, text],
            timeout=15_000,
        )
    except Exception:
        shown = page.inner_text(selector)
        errors = page.inner_text("#builder-error") if page.locator("#builder-error").count() else ""
        raise AssertionError(f"{selector} shows {shown!r}, not {text!r}; {errors}") from None


def frame_text(page: Any) -> str:
    return page.frame_locator("#preview-frame").locator("body").inner_text()


def member_id(db: Any, address: str) -> str:
    with db.session() as session:
        return str(session.scalar(select(Contact.id).where(Contact.email == address)))


def add_block(page: Any, block: str) -> None:
    """Add one of the editor's blocks to the email, as dropping it on the canvas does (Playwright
    cannot drag from the page into the editor's iframe)."""
    page.evaluate(
        """(id) => {
            const ed = window.grapesjs.editors[window.grapesjs.editors.length - 1];
            ed.addComponents(ed.Blocks.get(id).get('content'));
        }""",
        block,
    )


def test_ab_email_with_the_visual_editor_preview_test_send_and_send(
    tmp_path, database_url, db, shop, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="4")
    app = create_app(settings, db)
    with marketer(app) as (page, base), sending(db, settings, pause=0.1):
        page.goto(f"{base}/admin/build/")
        page.fill("#b-name", "Double 11 early access")
        page.select_option("#b-audience", str(shop))
        page.wait_for_function("document.getElementById('audience-count').textContent === '6'")
        page.wait_for_selector("#gjs .gjs-block", timeout=20_000)
        labels = page.locator("#gjs .gjs-block").all_inner_texts()
        for label in ("Text", "Image", "Button", "Product grid", "Coupon", "Divider"):
            assert any(label in text for text in labels), labels
        page.fill("#v-subject", "Hi {{ contact.first_name }}")
        for block in ("text", "product-grid", "coupon", "button", "divider"):
            add_block(page, block)
        # the preview renders variant A for the first member, in a sandboxed iframe
        page.select_option("#preview-contact", member_id(db, "member0@example.com"))
        wait_preview(page, "#preview-subject", "Hi Mei0")
        page.wait_for_function(
            "document.getElementById('preview-frame').srcdoc.includes('Hi Mei0, write')"
        )
        assert page.get_attribute("#preview-frame", "sandbox") == ""
        page.click("#width-mobile")
        assert page.eval_on_selector("#preview-frame", "e => e.offsetWidth") <= 375
        page.click("#width-desktop")
        # the source view shows the Jinja2 HTML the editor keeps
        page.click("#source-toggle")
        source = page.input_value("#v-html")
        assert "{% for p in products %}" in source and "{% endfor %}" in source
        assert 'href="{{ p.url }}"' in source and "{{ coupon.code }}" in source
        page.fill(
            "#v-html",
            source.replace(
                "write your message here.",
                'write your message here. {{ contact.attributes.city | default("friend") }}',
            ),
        )
        page.click("#source-toggle")
        page.click("#add-variant")
        assert page.locator("#variant-tab-B").is_visible()
        page.fill("#v-subject", "Last chance, {{ contact.first_name }}")
        wait_preview(page, "#preview-subject", "Last chance, Mei0")
        page.fill("#ab-fraction", "50")
        page.select_option("#ab-metric", "click_rate")
        page.fill("#ab-hours", "0")
        page.select_option("#ab-fallback", "A")
        page.click("#save-draft")
        wait_preview(page, "#review-sentence", "6 members by email, 2 variants, 50% test")
        assert "winner by click rate" in page.inner_text("#review-sentence")
        page.wait_for_url(re.compile(r".*/admin/build/\d+/$"))

        # the saved variant A round-trips: Jinja intact after the editor's serialiser
        with db.session() as session:
            campaign = session.scalars(select(Campaign)).one()
            html = campaign.variants[0].content["html"]
            assert campaign.ab_test["test_fraction"] == 0.5
            assert [v.name for v in campaign.variants] == ["A", "B"]
        assert "{% for p in products %}" in html
        assert '{{ contact.attributes.city | default("friend") }}' in html
        page.reload()
        page.wait_for_selector("#gjs .gjs-block", timeout=20_000)
        page.click("#save-draft")
        wait_preview(page, "#review-sentence", "6 members")
        with db.session() as session:
            again = session.scalars(select(Campaign)).one().variants[0].content["html"]
        assert again == html  # loading into the editor and saving again changes nothing

        page.fill("#test-to", "me@shop.example")
        page.click("#test-send")
        wait_preview(page, "#test-result", "Test sent to me@shop.example")
        assert [m.recipients for m in recorder.messages] == [["me@shop.example"]]
        test = email.message_from_bytes(recorder.messages[0].data, policy=email.policy.default)
        assert test["Subject"] == "Hi Mei0"

        page.screenshot(path=str(SCREENSHOTS / "builder.png"), full_page=False)
        page.click("#send-campaign")
        page.wait_for_selector("#confirm-modal.show")
        assert "6 members" in page.inner_text("#confirm-text")
        page.click("#confirm-send")
        page.wait_for_url(re.compile(r".*/admin/campaigns/\d+/$"))
        page.wait_for_function(
            "['testing', 'sending', 'sent'].includes("
            "document.getElementById('campaign-status').textContent)",
            timeout=20_000,
        )
    # the test group (half of six) went out; the test message was the only extra one
    assert 1 + 3 <= len(recorder.messages) <= 1 + 6


def test_a_template_error_is_refused_at_the_field(app, db, shop):
    with marketer(app) as (page, base):
        page.goto(f"{base}/admin/build/")
        page.fill("#b-name", "Broken")
        page.select_option("#b-audience", "everyone")
        page.fill("#v-subject", "Hi {{ contact.first_name ")
        page.click("#save-draft")
        page.wait_for_selector("#v-subject.is-invalid")
        problem = page.inner_text("#v-subject ~ .invalid-feedback")
        assert "variant A" in problem and "line 1" in problem
        assert "variants[0]" not in problem
        with db.session() as session:
            assert session.scalars(select(Campaign)).all() == []


@pytest.mark.xfail(
    strict=False,
    reason="the save-time check of unknown contact fields lands with the templates work "
    "(issue: templates engineer); until then {{ contact.nope }} saves",
)
def test_an_unknown_member_field_is_refused_at_the_field(app, db, shop):
    with marketer(app) as (page, base):
        page.goto(f"{base}/admin/build/")
        page.fill("#b-name", "Unknown field")
        page.select_option("#b-audience", "everyone")
        page.fill("#v-subject", "Hi {{ contact.nope }}")
        page.click("#save-draft")
        page.wait_for_selector("#v-subject.is-invalid", timeout=5_000)
        assert "nope" in page.inner_text("#v-subject ~ .invalid-feedback")
