"""The journey builder in a real Chromium: a broken graph gets the step named at the field while
typing, and again on save; a valid journey is saved, its diagram drawn as SVG, activated, and its
page shows counts on the steps once members have passed."""

from __future__ import annotations

import json
import re

import pytest

from herald.audiences import contacts
from herald.core.accounts import create_user
from herald.journeys import engine, entries
from herald.journeys.models import Journey
from tests.conftest import make_settings
from tests.journeys.support import welcome
from tests.web.screenshots import CHROMIUM, VIEWPORT, chromium, live_server, log_in, wait_js

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]

PASSWORD = "browser-test-pass"


@pytest.fixture
def backend() -> str:
    return "sqlite"


def test_a_marketer_builds_a_journey_sees_the_step_named_and_watches_counts(  # type: ignore[no-untyped-def]
    app, db, tmp_path, database_url
):
    with db.session() as session:
        create_user(session, "marketer@example.com", PASSWORD, "marketer")
    broken = welcome()
    broken["steps"][3]["next"] = "nowhere"
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/journeys/")
        page.click("#new-journey")
        # the example journey is drawn as a diagram
        assert page.locator("#journey-diagram svg g.node").count() == 6  # five steps and exit
        page.fill("#definition", json.dumps(broken, indent=2))
        wait_js(page, "document.getElementById('definition-error').textContent.includes('nowhere')")
        assert page.inner_text("#definition-error") == (
            "steps.offer: step 'offer': leads to unknown step 'nowhere'"
        )
        page.click("#save-journey")
        assert "leads to unknown step" in page.inner_text("#definition-error")
        assert page.locator(".step-card.border-danger").get_attribute("data-step") == "offer"

        page.fill("#definition", json.dumps(welcome(), indent=2))
        wait_js(page, "document.querySelectorAll('#journey-diagram svg g.node').length === 6")
        assert page.inner_text("#definition-error") == ""
        page.click("#save-journey")
        page.wait_for_url(re.compile(r".*/admin/journeys/\d+/$"))
        assert page.text_content("#journey-status") == "draft"
        assert page.locator("#journey-diagram line.edge").count() == 6
        page.click("#action-activate")
        assert page.text_content("#journey-status") == "active"

        settings = make_settings(tmp_path, database_url)
        with db.session() as session:
            journey = session.query(Journey).one()
            for i in range(3):
                contact, _ = contacts.upsert(
                    session,
                    {
                        "external_id": f"j{i}",
                        "email": f"j{i}@example.com",
                        "consent": {"email": True},
                    },
                    source="test",
                )
                session.flush()
                entries.enter(session, journey, contact.id, journey.activated_at, settings.timezone)
        engine.tick(db, settings)
        page.reload()
        assert page.inner_text("[data-stat=entered]") == "3"
        assert page.inner_text("tr[data-step=wait1] [data-col=waiting]") == "3"
        assert page.text_content("#journey-diagram g.node[data-step=hello] text.count") == "3"
        assert "j0@example.com" in page.inner_text(".step-card[data-step=wait1] .sample")
        page.screenshot(path=str(tmp_path / "journey.png"), full_page=True)


def test_a_marketer_starts_a_birthday_journey_from_the_builders_starting_points(  # type: ignore[no-untyped-def]
    app, db
):
    with db.session() as session:
        create_user(session, "marketer@example.com", PASSWORD, "marketer")
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/journeys/new")
        labels = page.locator("#journey-starts a").all_inner_texts()
        assert labels == [
            "Welcome series",
            "Birthday greeting and tier gift",
            "Points expiry warning",
            "Referral thank-you",
            "Win-back of lapsing buyers",
        ]
        page.click("#start-birthday")
        shown = json.loads(page.input_value("#definition"))
        assert shown["entry"] == {"date_field": "birthday", "offset_days": -3, "time": "10:00"}
        assert page.locator("#journey-diagram svg g.node").count() == 2  # the greeting and exit
        page.click("#save-journey")
        page.wait_for_url(re.compile(r".*/admin/journeys/\d+/$"))
        assert page.text_content("#journey-status") == "draft"
    with db.session() as session:
        saved = session.query(Journey).one()
        assert saved.name == "Birthday greeting and tier gift"
        assert saved.definition["steps"][0]["coupon"] == {"tier_benefit": "birthday_gift"}
