"""Send time in a real Chromium: a marketer schedules a smart campaign in the builder and finds it
in the campaign list with its schedule; the "When does my audience open?" page shows the counts
of a seeded set of opens and clicks, for everyone and for a segment; a member's page shows the
best hour."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select

from herald.audiences import send_time
from herald.audiences.models import Contact, Event, Segment
from herald.campaigns.models import Campaign
from herald.core import clock
from tests.web.screenshots import CHROMIUM, wait_js
from tests.web.test_builder_browser import (  # noqa: F401  (fixtures)
    add_block,
    backend,
    marketer,
    member_id,
    pick_channel,
    save,
)
from tests.web.test_builder_browser import shop as shop

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; no browser downloads)",
    ),
]


def test_a_marketer_schedules_a_smart_campaign_and_sees_it_listed(app, db, shop):
    day = (clock.now() + timedelta(days=5)).date()
    with marketer(app) as (page, base):
        page.goto(f"{base}/admin/build/")
        page.fill("#b-name", "Double 11 at their best hour")
        pick_channel(page, "email")
        page.select_option("#b-audience", str(shop))
        wait_js(page, "document.getElementById('audience-count').textContent === '6'")
        page.wait_for_selector("#gjs .gjs-block", timeout=20_000)
        page.fill("#v-subject", "Hi {{ contact.first_name }}")
        add_block(page, "text")
        page.check("#when-smart", force=True)
        assert page.locator("#smart-date").is_visible()
        # a day already over everywhere is refused at its field, in plain words
        page.fill("#smart-date", "2020-11-11")
        page.click("#save-draft")
        page.wait_for_selector("#smart-date.is-invalid")
        assert "in the past" in page.inner_text("#smart-date ~ .invalid-feedback")
        page.fill("#smart-date", day.isoformat())
        page.fill("#smart-fallback", "09:30")
        campaign_id = save(page, "6 members by email")
        page.click("#send-campaign")
        page.wait_for_selector("#confirm-modal.show")
        page.click("#confirm-send")
        page.wait_for_url(re.compile(rf".*/admin/campaigns/{campaign_id}/$"))
        assert page.text_content("#campaign-status") == "scheduled"
        assert f"on {day.isoformat()} at each member's best hour" in page.inner_text(
            "#smart-schedule"
        )

        page.goto(f"{base}/admin/campaigns/")
        row = page.locator("tr", has_text="Double 11 at their best hour")
        assert "scheduled" in row.inner_text().lower()
        assert (
            f"on {day.isoformat()} at each member's best hour in their own time zone "
            "(else at 09:30)" in row.inner_text()
        )
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        assert campaign.schedule == {
            "type": "smart",
            "date": day.isoformat(),
            "fallback_time": "09:30",
        }
        assert campaign.status == "scheduled"


def test_the_heat_map_shows_the_counts_of_a_seeded_set(app, db, shop, settings):
    # members: member0 (gold, in the segment) in Shanghai; member1 (silver) in New York
    now = clock.now()
    # the last Friday at least a week ago, 02:30 UTC: Friday 10:30 in Shanghai and Thursday
    # 21:30 in New York (both zones keep their offsets in the weeks either side)
    friday = (now - timedelta(days=7 + (now.weekday() - 4) % 7)).replace(
        hour=2, minute=30, second=0, microsecond=0, tzinfo=UTC
    )
    assert friday.weekday() == 4
    with db.session() as session:
        gold = session.scalar(select(Contact).where(Contact.email == "member0@example.com"))
        silver = session.scalar(select(Contact).where(Contact.email == "member1@example.com"))
        gold.timezone, silver.timezone = "Asia/Shanghai", "America/New_York"
        rows = [(gold.id, "email.opened", False)] * 3 + [(gold.id, "email.clicked", False)]
        rows += [(silver.id, "email.opened", False)] * 2 + [(silver.id, "email.opened", True)] * 5
        session.execute(
            insert(Event),
            [
                {"contact_id": cid, "type": kind, "machine": machine, "occurred_at": friday}
                for cid, kind, machine in rows
            ]
            + [
                {
                    "contact_id": gold.id,
                    "type": "email.opened",
                    "machine": False,
                    "occurred_at": datetime(2001, 1, 1, tzinfo=UTC),  # long ago: not counted
                }
            ],
        )
        session.flush()
        send_time.recompute(session, settings.timezone, clock.now())
        segment_id = session.scalar(select(Segment.id).where(Segment.name == "Gold members"))
    with marketer(app) as (page, base):
        page.goto(f"{base}/admin/send-time/")
        assert "6 opens and clicks by all members" in page.inner_text("#heat-summary")
        cells = page.locator("#heat-map td[data-count]")
        assert cells.count() == 7 * 24
        friday_ten = page.locator("#heat-map tbody tr").nth(4).locator("td").nth(10)
        thursday_21 = page.locator("#heat-map tbody tr").nth(3).locator("td").nth(21)
        assert friday_ten.inner_text() == "4" and "heat-100" in friday_ten.get_attribute("class")
        assert thursday_21.inner_text() == "2" and "heat-50" in thursday_21.get_attribute("class")
        assert "Friday 10:00 (4)" in page.inner_text("#heat-summary")

        # narrowed to a segment, with the form a marketer uses
        page.select_option("#heat-segment", str(segment_id))
        page.click("#heat-filter button[type=submit]")
        page.wait_for_url(re.compile(rf".*segment={segment_id}.*"))
        assert "4 opens and clicks by members of Gold members" in page.inner_text("#heat-summary")
        assert page.locator("#heat-map tbody tr").nth(3).locator("td").nth(21).inner_text() == ""

        # and from the segment's own page
        page.goto(f"{base}/admin/segments/edit/?id={segment_id}")
        page.click("#segment-send-time")
        page.wait_for_selector("#heat-summary")
        assert "members of Gold members" in page.inner_text("#heat-summary")

        # the member pages show each one's best hour
        page.goto(f"{base}/admin/members/{member_id(db, 'member0@example.com')}/")
        assert "best hour 10:00 in their time zone" in page.inner_text("#best-hour")
        page.goto(f"{base}/admin/members/{member_id(db, 'member2@example.com')}/")
        assert "not known yet" in page.inner_text("#best-hour")
