"""The segment rule builder in a real Chromium (Playwright) against a live server: build nested
AND / OR / NOT rules by clicking, watch the JSON and the live preview follow, save, reopen."""

from __future__ import annotations

import json
from typing import Any

import pytest
from playwright.sync_api import expect
from sqlalchemy import select

from herald.audiences import contacts
from herald.audiences.models import Segment
from herald.core.accounts import create_user
from tests.web.screenshots import CHROMIUM, VIEWPORT, chromium, live_server, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; no browser downloads)",
    ),
]

PASSWORD = "builder-test-pass"
# (email, tier, points): who fits "gold or platinum, points > 500, not @example.com"
MEMBERS = [
    ("ann@shopmail.com", "gold", 600, True),
    ("bob@example.com", "gold", 900, False),  # the NOT group leaves him out
    ("cat@shopmail.com", "platinum", 501, True),
    ("dan@shopmail.com", "platinum", 500, False),  # points must be more than 500
    ("eve@shopmail.com", "silver", 1000, False),
    ("fay@shopmail.com", "gold", 1200, True),
    ("gus@shopmail.com", "new", 0, False),
    ("hal@EXAMPLE.com", "platinum", 700, False),  # ends_with ignores case
]
FITS = sorted(email for email, _, _, fits in MEMBERS if fits)
EXPECTED = {
    "all": [
        {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
        {"field": "points", "op": "gt", "value": 500},
        {"not": {"field": "email", "op": "ends_with", "value": "@example.com"}},
    ]
}
ROOT = "#segment-tree > .rule-group"


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only: the admin's SQL is covered on both by test_admin.py."""
    return "sqlite"


@pytest.fixture
def shop(db: Any) -> None:
    with db.session() as session:
        create_user(session, "marketer@example.com", PASSWORD, "marketer")
        for i, (email, tier, points, _) in enumerate(MEMBERS):
            contacts.upsert(
                session,
                {"external_id": f"m{i}", "email": email, "tier": tier, "points": points},
                source="test",
            )


def rules_in(page: Any) -> Any:
    return json.loads(page.eval_on_selector("#rules_json", "e => e.value"))


def wait_count(page: Any, count: int) -> None:
    # a locator wait, not wait_for_function: the CSP refuses the eval that one needs
    expect(page.locator("#segment-count")).to_have_text(str(count), timeout=10_000)


def test_a_marketer_builds_nested_rules_by_clicking(app, db, shop):
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/segments/new/")
        wait_count(page, len(MEMBERS))  # no rules yet: everyone
        assert page.locator("#rules_json").is_hidden()  # JSON tucked away behind its toggle
        page.fill("#name", "Big spenders")
        root = page.locator(ROOT)
        rows = page.locator(f"{ROOT} > .rule-children > .rule-condition")
        assert (
            root.locator("> .rule-group-head [data-role=mode-all]").get_attribute("aria-pressed")
            == "true"
        )

        # tier is one of gold, platinum
        root.locator("> .rule-group-head [data-role=add-condition]").click()
        first = rows.nth(0)
        first.locator("[data-role=field]").select_option("tier")
        first.locator("[data-role=op]").select_option("in")
        first.locator("[data-role=tier-gold]").click()
        first.locator("[data-role=tier-platinum]").click()

        # points > 500
        root.locator("> .rule-group-head [data-role=add-condition]").click()
        second = rows.nth(1)
        second.locator("[data-role=field]").select_option("points")
        second.locator("[data-role=op]").select_option("gt")
        second.locator("[data-role=value]").fill("500")

        # NOT (email ends with @example.com), in a sub-group
        root.locator("> .rule-group-head [data-role=add-group]").click()
        sub = page.locator(f"{ROOT} > .rule-children > .rule-group")
        assert sub.count() == 1
        sub.locator("> .rule-group-head [data-role=not]").click()
        sub.locator("> .rule-group-head [data-role=add-condition]").click()
        inner = sub.locator("> .rule-children > .rule-condition")
        assert inner.locator("[data-role=field]").input_value() == "email"
        inner.locator("[data-role=op]").select_option("ends_with")
        inner.locator("[data-role=value]").fill("@example.com")

        assert rules_in(page) == EXPECTED
        wait_count(page, len(FITS))
        sample = page.inner_text("#segment-sample")
        assert all(email in sample for email in FITS)
        assert "bob@example.com" not in sample

        # the JSON toggle shows the raw rules; a hand edit re-renders the builder
        page.click("#segment-json-toggle")
        assert page.locator("#rules_json").is_visible()
        page.fill(
            "#rules_json",
            json.dumps({"any": [{"field": "email", "op": "eq", "value": "gus@shopmail.com"}]}),
        )
        wait_count(page, 1)
        assert (
            root.locator("> .rule-group-head [data-role=mode-any]").get_attribute("aria-pressed")
            == "true"
        )
        assert rows.count() == 1
        assert rows.nth(0).locator("[data-role=value]").input_value() == "gus@shopmail.com"
        page.fill("#rules_json", '{"any": [')  # does not parse: the builder keeps its rules
        assert page.locator("#segment-builder-notice").is_visible()
        assert rows.count() == 1
        page.fill("#rules_json", json.dumps(EXPECTED, indent=2))
        wait_count(page, len(FITS))
        assert page.locator("#segment-builder-notice").is_hidden()
        page.click("#segment-json-toggle")
        assert page.locator("#rules_json").is_hidden()

        page.click("input[type=submit][value=Save]")
        page.wait_for_url(f"{base}/admin/segments/")
        with db.session() as session:
            segment = session.scalars(select(Segment).where(Segment.name == "Big spenders")).one()
            assert segment.rules == EXPECTED
            segment_id = segment.id

        page.goto(f"{base}/admin/segments/edit/?id={segment_id}")
        wait_count(page, len(FITS))
        assert rules_in(page) == EXPECTED
        assert rows.count() == 2
        assert rows.nth(0).locator("[data-role=field]").input_value() == "tier"
        assert rows.nth(0).locator("[data-role=op]").input_value() == "in"
        pressed = (
            rows.nth(0)
            .locator("[aria-pressed=true]")
            .evaluate_all("nodes => nodes.map(n => n.dataset.role)")
        )
        assert pressed == ["tier-gold", "tier-platinum"]
        assert rows.nth(1).locator("[data-role=field]").input_value() == "points"
        assert rows.nth(1).locator("[data-role=op]").input_value() == "gt"
        assert rows.nth(1).locator("[data-role=value]").input_value() == "500"
        assert sub.count() == 1
        assert (
            sub.locator("> .rule-group-head [data-role=not]").get_attribute("aria-pressed")
            == "true"
        )
        assert inner.count() == 1
        assert inner.locator("[data-role=field]").input_value() == "email"
        assert inner.locator("[data-role=op]").input_value() == "ends_with"
        assert inner.locator("[data-role=value]").input_value() == "@example.com"

        # an any-of switch on the saved segment goes straight back to the JSON and the preview
        root.locator("> .rule-group-head [data-role=mode-any]").click()
        assert list(rules_in(page)) == ["any"]
        wait_count(page, len(MEMBERS))  # every member fits at least one of the three
