"""Promotions in a real Chromium, as a marketer clicks through them: create a promotion (a window
that ends before it starts is named at the field), start Double 11 from the holiday gallery, see
its draft campaigns, its span on the calendar, and its report once orders came in."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import select

from herald.audiences import contacts
from herald.audiences.models import Event
from herald.campaigns.models import Campaign, Delivery, Run
from herald.campaigns.promotions import Promotion
from herald.core import clock
from herald.core.accounts import create_user
from tests.conftest import make_settings
from tests.web.screenshots import CHROMIUM, VIEWPORT, chromium, live_server, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]

PASSWORD = "browser-test-pass"


@pytest.fixture
def backend() -> str:
    return "sqlite"


@pytest.fixture
def settings(tmp_path, database_url):  # type: ignore[no-untyped-def]
    return make_settings(tmp_path, database_url, timezone="Asia/Shanghai")


def _orders_for(db, campaign_id: int) -> None:  # type: ignore[no-untyped-def]
    """The teaser went to two members; one clicked and ordered 250,000 (half the goal)."""
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        campaign.status = "sent"
        run = Run(campaign_id=campaign_id, status="sent", due_at=clock.now() - timedelta(days=1))
        session.add(run)
        session.flush()
        for n in (1, 2):
            contact, _ = contacts.upsert(
                session, {"external_id": f"b{n}", "email": f"b{n}@example.com"}, source="test"
            )
            session.flush()
            delivery = Delivery(
                run_id=run.id,
                contact_id=contact.id,
                variant_id=campaign.variants[0].id,
                status="sent",
                sent_at=clock.now() - timedelta(days=1),
            )
            session.add(delivery)
            session.flush()
            if n == 1:
                session.add_all(
                    [
                        Event(
                            contact_id=contact.id,
                            type="email.clicked",
                            run_id=run.id,
                            delivery_id=delivery.id,
                            occurred_at=clock.now() - timedelta(hours=5),
                        ),
                        Event(
                            contact_id=contact.id,
                            type="order.placed",
                            occurred_at=clock.now() - timedelta(hours=4),
                            data={"order_id": "X1", "total": "250000.00"},
                        ),
                    ]
                )
        session.commit()


def test_a_marketer_plans_double_11_and_reads_its_report(app, db):  # type: ignore[no-untyped-def]
    with db.session() as session:
        create_user(session, "marketer@example.com", PASSWORD, "marketer")
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/promotions/")
        assert "No promotions yet" in page.inner_text("#no-promotions")

        # a promotion by hand; first with its end before its start
        page.click("#new-promotion")
        page.fill("#name", "Autumn flash sale")
        page.select_option("#kind", "flash_sale")
        page.fill("#starts_at", "2027-09-10T20:00")
        page.fill("#ends_at", "2027-09-09T20:00")
        page.select_option("#goal_metric", "orders")
        page.fill("#goal_target", "300")
        page.fill("#budget", "2000")
        page.click("#save-promotion")
        assert "ends before it starts" in page.inner_text("#promotion-form")
        page.fill("#ends_at", "2027-09-11T20:00")
        page.click("#save-promotion")
        page.wait_for_url(re.compile(r".*/admin/promotions/\d+/$"))
        assert "Autumn flash sale" in page.inner_text("#promotion-name")
        assert "2027-09-10 20:00 to 2027-09-11 20:00" in page.inner_text("body")
        assert "No campaigns yet" in page.inner_text("#promotion-campaigns")

        # Double 11 from the gallery
        page.goto(f"{base}/admin/promotions/")
        page.click("#start-from-template")
        assert page.locator("#promotion-gallery [data-template]").count() == 8
        card = page.locator("[data-template=double11]")
        assert card.locator(".next-dates").inner_text().endswith("-11-11")
        card.locator("input[name=year]").fill("2027")
        page.click("#apply-double11")
        page.wait_for_url(re.compile(r".*/admin/promotions/\d+/$"))
        assert "Double 11 2027" in page.inner_text("#promotion-name")
        assert "5 draft campaigns" in page.inner_text("body")
        rows = page.locator("#promotion-campaigns tbody tr")
        assert rows.count() == 5
        assert [rows.nth(i).locator("td").nth(1).inner_text() for i in range(5)] == [
            "email",
            "member_day",
            "email",
            "sms",
            "social",
        ]
        assert page.locator("#promotion-campaigns .status-draft").count() == 5
        assert rows.nth(0).locator("td").nth(2).inner_text() == "2027-11-01 10:00"
        assert page.inner_text("#goal-percent") == "0.0%"
        promotion_url = page.url

        # the calendar: a bar over 1 to 11 November, and the campaigns in it
        page.click("#promotion-calendar")
        page.wait_for_url(re.compile(r".*/admin/calendar/\?month=2027-11$"))
        with db.session() as session:
            promotion = session.scalar(select(Promotion).where(Promotion.template == "double11"))
            pid = promotion.id
            teaser = session.scalar(
                select(Campaign.id).where(Campaign.promotion_id == pid).order_by(Campaign.id)
            )
        days = page.eval_on_selector_all(
            f".cal-span[data-promotion='{pid}']",
            "els => els.map(e => e.closest('td').dataset.day)",
        )
        assert days == [f"2027-11-{d:02d}" for d in range(1, 12)]
        assert page.locator("td[data-day='2027-11-01'] .cal-span").inner_text() == (
            "Double 11 2027"
        )
        assert page.locator(f".cal-item[data-in-promotion='{pid}']").count() == 5
        assert "Double 11 2027: teaser email" in page.inner_text("td[data-day='2027-11-01']")
        page.click(f"td[data-day='2027-11-05'] .cal-span[data-promotion='{pid}']")
        page.wait_for_url(promotion_url)

        # orders came in: the report shows revenue against the goal
        _orders_for(db, teaser)
        page.reload()
        assert page.inner_text("#report-revenue") == "250,000.00"
        assert page.inner_text("#report-orders") == "1"
        assert page.inner_text("#goal-percent") == "50.0%"
        assert page.get_attribute("#goal-bar", "aria-valuenow") == "50.0"
        assert page.inner_text("#goal-reached") == "Not reached yet."
        email_row = page.locator("#channels-table tr[data-channel=email] td")
        assert [email_row.nth(i).inner_text() for i in (1, 2, 4, 6, 7)] == [
            "2",
            "2",
            "50.0%",
            "1",
            "250,000.00",
        ]
        assert page.inner_text("#coupons-issued") == "0"

        # the list shows both
        page.goto(f"{base}/admin/promotions/")
        assert page.locator("#promotions-table tbody tr").count() == 2
