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
            lambda m: (
                self.problems.append(f"console {m.type}: {m.text} at {m.location}")
                if m.type == "error"
                else None
            ),
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
        wait_js(
            page,
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
        wait_js(page, "document.getElementById('audience-count').textContent === '6'")
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
        wait_js(page, "document.getElementById('preview-frame').srcdoc.includes('Hi Mei0, write')")
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
        page.select_option("#ab-confidence", "0.99")
        page.click("#save-draft")
        wait_preview(page, "#review-sentence", "6 members by email, 2 variants, 50% test")
        assert "winner by click rate" in page.inner_text("#review-sentence")
        page.wait_for_url(re.compile(r".*/admin/build/\d+/$"))

        # the saved variant A round-trips: Jinja intact after the editor's serialiser
        with db.session() as session:
            campaign = session.scalars(select(Campaign)).one()
            html = campaign.variants[0].content["html"]
            assert campaign.ab_test["test_fraction"] == 0.5
            assert campaign.ab_test["confidence"] == 0.99
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

        page.click("#send-campaign")
        page.wait_for_selector("#confirm-modal.show")
        assert "6 members" in page.inner_text("#confirm-text")
        page.click("#confirm-send")
        page.wait_for_url(re.compile(r".*/admin/campaigns/\d+/$"))
        wait_js(
            page,
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


def pick_channel(page: Any, kind: str) -> None:
    page.click(f"label:has(#channel-{kind})")


def save(page: Any, expect: str) -> int:
    """Press Save draft, wait for the review sentence; returns the campaign id."""
    page.click("#save-draft")
    wait_preview(page, "#review-sentence", expect)
    page.wait_for_url(re.compile(r".*/admin/build/\d+/$"))
    return int(page.url.rstrip("/").rsplit("/", 1)[1])


def test_sms_once_social_recurring_member_day_local_time_on_the_calendar(app, db, shop):
    from datetime import timedelta

    from herald.core import clock

    day = (clock.now() + timedelta(days=3)).date()
    with marketer(app) as (page, base):
        # an SMS, once, at a picked date-time and zone
        page.goto(f"{base}/admin/build/")
        page.fill("#b-name", "Flash sale text")
        pick_channel(page, "sms")
        page.select_option("#b-audience", str(shop))
        page.fill("#v-body", "你好 {{ contact.first_name }}，今晚八点闪购")
        page.select_option("#preview-contact", member_id(db, "member2@example.com"))
        wait_preview(page, "#preview-sms", "你好 Mei2")
        assert "UCS2 · 1 segment" in page.inner_text("#preview-sms-meter")
        page.check("#when-once", force=True)
        page.fill("#once-local", f"{day.isoformat()}T20:00")
        page.select_option("#once-zone", "Asia/Shanghai")
        sms_id = save(page, "6 members by SMS, 1 variant")
        with db.session() as session:
            schedule = session.get(Campaign, sms_id).schedule
        assert schedule == {"type": "once", "at": f"{day.isoformat()}T20:00:00+08:00"}

        # a past once time is refused at save, at its field
        page.fill("#once-local", "2020-01-01T10:00")
        page.click("#save-draft")
        page.wait_for_selector("#once-local.is-invalid")
        assert "in the past" in page.inner_text("#once-local ~ .invalid-feedback")

        # a social post, every month on the 8th at 10:00 Shanghai time
        page.goto(f"{base}/admin/build/")
        page.fill("#b-name", "Monthly lookbook post")
        pick_channel(page, "social")
        assert page.locator("#b-audience").is_hidden()
        page.fill("#v-status", "New arrivals are in! {{ campaign.name }}")
        wait_preview(page, "#preview-post-meter", "/ 500 characters")
        assert "Monthly lookbook post" in page.inner_text("#preview-post")
        page.check("#when-recurring", force=True)
        page.select_option("#rec-freq", "month")
        page.fill("#rec-monthday", "8")
        page.fill("#rec-time", "10:00")
        page.select_option("#rec-zone", "Asia/Shanghai")
        wait_preview(page, "#rec-sentence", "every month on the 8th at 10:00 Asia/Shanghai")
        wait_js(
            page,
            "[...document.querySelectorAll('#next-times li')]"
            ".filter(li => li.textContent.endsWith('-08 02:00')).length === 5",
        )  # 10:00 in Shanghai is 02:00 in the shop's zone (UTC here)
        post_id = save(page, "one post as a social post")
        page.click("#send-campaign")
        page.wait_for_selector("#confirm-modal.show")
        assert "one post" in page.inner_text("#confirm-text")
        page.click("#confirm-send")
        page.wait_for_url(re.compile(rf".*/admin/campaigns/{post_id}/$"))
        assert page.text_content("#campaign-status") == "scheduled"

        # a member day at each member's local time, benefits per tier
        page.goto(f"{base}/admin/build/")
        page.fill("#b-name", "Gold member day")
        pick_channel(page, "member_day")
        page.select_option("#b-audience", "everyone")
        page.select_option("#benefit-gold-type", "coupon")
        page.fill("#benefit-gold-amount", "15")
        page.fill("#benefit-gold-days", "2")
        page.select_option("#benefit-silver-type", "points_multiplier")
        page.fill("#benefit-silver-amount", "2")
        page.check("#notify-email")
        page.fill("#v-md-subject", "Your member day, {{ contact.first_name }}")
        page.fill("#v-md-html", "<p>Enjoy your benefits</p>")
        page.select_option("#preview-contact", member_id(db, "member4@example.com"))
        wait_preview(page, "#preview-benefit", "This member gets: 15% off coupon")
        assert page.locator("#preview-benefits tr").count() == 2
        wait_preview(page, "#preview-notice", "Your member day, Mei4")
        page.check("#when-local_time", force=True)
        page.fill("#local-date", day.isoformat())
        page.fill("#local-time", "09:30")
        save(page, "12 members as a member day")

        # all three on the calendar, on their days
        page.goto(f"{base}/admin/calendar/?month={day:%Y-%m}")
        cell = page.locator(f"td[data-day='{day.isoformat()}']")
        assert "Flash sale text" in cell.inner_text()
        assert "Gold member day" in cell.inner_text()
        assert cell.locator(".kind-member_day").count() == 1
        eighth = page.locator(f"td[data-day='{day:%Y-%m}-08'] .cal-item")
        if day.day <= 8 or eighth.count():
            assert eighth.first.inner_text().strip() == "02:00 Monthly lookbook post"
        page.goto(f"{base}/admin/calendar/?month={(day.replace(day=1) + timedelta(days=40)):%Y-%m}")
        assert page.locator("[data-schedule=recurring]").count() == 1

        # the scheduled post goes back to draft and can be edited again
        page.goto(f"{base}/admin/build/{post_id}/")
        assert page.locator("#readonly-note").is_visible()
        page.click("#unschedule")
        page.wait_for_selector("#save-draft:not([disabled])")
        assert page.text_content("#builder-status") == "draft"
        assert page.input_value("#rec-monthday") == "8"
        page.fill("#v-status", "New arrivals, second edition")
        save(page, "one post")
    with db.session() as session:
        post = session.get(Campaign, post_id)
        assert post.status == "draft" and post.next_run_at is None
        assert post.variants[0].content["status"] == "New arrivals, second edition"


def test_the_campaign_list_offers_the_pencil_only_on_drafts(app, db, shop):
    from herald.campaigns import service

    with db.session() as session:
        zone = app.extensions["herald.settings"].timezone
        body = {"name": "x", "channel": "social", "variants": [{"status": "Hi"}]}
        draft = service.create_campaign(session, {**body, "name": "draft one"}, zone)
        sent = service.create_campaign(session, {**body, "name": "cancelled one"}, zone)
        service.cancel(session, sent)
        ids = draft.id, sent.id
    with marketer(app) as (page, base):
        page.goto(f"{base}/admin/campaigns/")
        assert page.locator(f"a.row-edit[href$='/admin/build/{ids[0]}/']").count() == 1
        assert page.locator(f"a.row-edit[href$='/admin/build/{ids[1]}/']").count() == 0
        page.click("#open-builder")
        page.wait_for_url(f"{base}/admin/build/")
