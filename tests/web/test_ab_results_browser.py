"""An A/B campaign's results page in a real Chromium: each variant's rates with their intervals
and the decision in a sentence, both from the one metrics module (issue 11's numbers, issue 10's
page)."""

from __future__ import annotations

from datetime import timedelta
from zoneinfo import ZoneInfo

from herald.campaigns import metrics, service
from herald.campaigns.models import Campaign
from herald.core import clock
from tests.helpers import drain
from tests.web.screenshots import VIEWPORT, chromium, live_server, log_in
from tests.web.test_workspace_browser import (  # noqa: F401  (fixtures)
    PASSWORD,
    _watch,
    backend,
    people,
    pytestmark,
    settings,
    smtp,
)

LINK = "https://shop.example/ab"


def test_the_results_page_shows_each_variants_intervals_and_the_decision_in_words(
    app,
    db,
    settings,  # noqa: F811
    people,  # noqa: F811
    smtp,  # noqa: F811
):
    recorder, _ = smtp
    with db.session() as session:
        campaign = service.create_campaign(
            session,
            {
                "name": "Subject test",
                "channel": "email",
                "variants": [
                    {"name": "A", "subject": "Plain", "html": f'<a href="{LINK}">Shop</a>'},
                    {"name": "B", "subject": "Bold", "html": f'<a href="{LINK}">Shop now</a>'},
                ],
                "ab_test": {
                    "test_fraction": 0.5,
                    "metric": "click_rate",
                    "decide_after_hours": 1,
                    "fallback": "A",
                },
                "schedule": {"type": "immediate"},
            },
            ZoneInfo("UTC"),
        )
        service.send_now(session, campaign)
        campaign_id = campaign.id
    drain(db, settings)  # the test group: 3 + 3 of the 12 members
    assert len(recorder.messages) == 6
    clock.shift(timedelta(hours=2))  # the window closes; the tick decides, the rest go out
    drain(db, settings)
    assert len(recorder.messages) == 12
    with db.session() as session:
        stats = metrics.campaign_stats(session, session.get(Campaign, campaign_id))
    sentence = stats["decision"]["sentence"]
    low, high = stats["variants"]["B"]["ci"]["click_rate"]

    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        errors, failures = _watch(page)
        log_in(page, base, "viewer@example.com", PASSWORD)
        page.goto(f"{base}/admin/results/{campaign_id}/")
        shown = page.inner_text("#decision-sentence")
        assert shown == sentence
        # 3 deliveries a variant is below HERALD_AB_MIN_SAMPLE (100): no winner is made up
        assert shown.startswith("Too few deliveries to decide (needs ")
        assert "A went to the remaining 6" in shown or "remaining 6" in shown
        table = page.inner_text("#variants-table")
        assert f"({low * 100:.1f}–{high * 100:.1f})" in table
        assert errors == [] and failures == []
