"""The Content-Security-Policy in a real Chromium: every admin page loads with no violation and no
script error, and the parts that need JavaScript still work (bulk delete, confirm buttons, the
segment builder's live count, import progress, campaign progress)."""

from __future__ import annotations

from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from herald.audiences import contacts
from herald.audiences.models import ImportJob, Segment
from herald.campaigns import service
from herald.core.accounts import create_token, create_user
from tests.helpers import email_campaign
from tests.web.screenshots import CHROMIUM, VIEWPORT, chromium, live_server, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]

PASSWORD = "browser-test-pass"
WATCH_CSP = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", function (e) {
  window.__csp.push(e.violatedDirective + " " + (e.blockedURI || "inline") + " " + e.sourceFile);
});
"""


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def shop(db: Any, settings: Any) -> dict[str, int]:
    """An admin, members, segments, a campaign, an import job and an outbox message."""
    from zoneinfo import ZoneInfo

    with db.session() as session:
        create_user(session, "admin@example.com", PASSWORD, "admin")
        create_token(session, "shop", "marketer")
        for i in range(5):
            contacts.upsert(
                session,
                {"external_id": f"m{i}", "email": f"m{i}@example.com", "tier": "gold"},
                source="test",
            )
        segments = []
        for name in ("Gold", "Old list", "Spare"):
            segment = Segment(name=name, rules={"field": "tier", "op": "eq", "value": "gold"})
            session.add(segment)
            session.flush()
            segments.append(segment.id)
        campaign = service.create_campaign(session, email_campaign(segments[0]), ZoneInfo("UTC"))
        job = ImportJob(filename="m.csv", stored_path="/nowhere/m.csv", status="done")
        session.add(job)
        session.flush()
        ids = {"campaign": campaign.id, "job": job.id, "segment": segments[0]}
        ids["spare"] = segments[2]
    outbox = settings.instance_path / "outbox"
    outbox.mkdir(parents=True, exist_ok=True)
    (outbox / "1700000000-1.eml").write_bytes(
        b"Subject: Hi\r\nFrom: a@example.com\r\nTo: b@example.com\r\n"
        b"Content-Type: text/html\r\n\r\n<p style='color:red'>Hello</p>\r\n"
    )
    return ids


def _pages(ids: dict[str, int]) -> list[str]:
    pages = [
        "/admin/",
        "/admin/reports/",
        "/admin/outbox/",
        "/admin/outbox/1700000000-1.eml",
        "/admin/imports/",
        f"/admin/imports/{ids['job']}/",
    ]
    for view in ("contacts", "segments", "campaigns", "users", "tokens"):
        pages += [f"/admin/{view}/", f"/admin/{view}/new/"]
    pages += [
        "/admin/contacts/edit/?id=1",
        f"/admin/segments/edit/?id={ids['segment']}",
        f"/admin/campaigns/{ids['campaign']}/",
        f"/admin/campaigns/{ids['campaign']}/deliveries/",
        f"/admin/campaigns/edit/?id={ids['campaign']}",
        "/admin/users/edit/?id=1",
    ]
    return pages


def test_every_admin_page_works_in_chromium_under_the_csp(app, db, shop):
    errors: list[str] = []
    dialogs: list[str] = []
    answer_dialogs = {"accept": True}

    def on_dialog(dialog: Any) -> None:
        dialogs.append(dialog.message)
        dialog.accept() if answer_dialogs["accept"] else dialog.dismiss()

    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        page.add_init_script(WATCH_CSP)
        page.on("pageerror", lambda exc: errors.append(f"{page.url}: {exc}"))
        page.on(
            "console",
            lambda msg: (
                errors.append(f"{page.url}: {msg.text}")
                if msg.type == "error" and "Failed to load resource" not in msg.text
                else None
            ),
        )
        # failed loads are told apart by URL (the browser's own favicon probe is expected)
        page.on(
            "response",
            lambda r: (
                errors.append(f"{r.status} {r.url}")
                if r.status >= 400 and not r.url.endswith("/favicon.ico")
                else None
            ),
        )
        page.on("dialog", on_dialog)
        log_in(page, base, "admin@example.com", PASSWORD)
        for path in _pages(shop):
            answer = page.goto(base + path)
            assert answer is not None and answer.status == 200, path
            assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
            # not "networkidle": the campaign and import pages keep polling
            page.wait_for_load_state("load")
            page.wait_for_timeout(300)  # violation events are dispatched asynchronously
            violations = page.evaluate("window.__csp")
            assert violations == [], f"{path}: {violations}"
        assert errors == []

        # the segment builder's live count runs (its script is a static file)
        page.goto(f"{base}/admin/segments/new/")
        expect(page.locator("#segment-count")).to_have_text("5")  # the five gold members

        # a row's delete button asks first (data-herald-confirm): dismissed, nothing is deleted
        page.goto(f"{base}/admin/segments/")
        answer_dialogs["accept"] = False
        page.click(
            f"form:has(input[name=id][value='{shop['segment']}']) button[data-herald-confirm]"
        )
        page.wait_for_timeout(300)
        assert dialogs == ["Are you sure you want to delete this record?"]

        # bulk "Delete selected": Flask-Admin's action menu, wired by herald.js under the CSP
        answer_dialogs["accept"] = True
        page.check(f"input.action-checkbox[value='{shop['spare']}']")
        page.click("text=With selected")
        page.click("[data-herald-action='delete']")
        expect(page.locator(".alert")).to_contain_text("successfully deleted")
        assert page.evaluate("window.__csp") == []
    with db.session() as session:
        left = set(session.scalars(select(Segment.id)))
    assert shop["spare"] not in left and shop["segment"] in left
    assert errors == []
