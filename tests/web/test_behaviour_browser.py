"""Behaviour in the admin, in a real Chromium against a live server: the RFM page (groups,
the recency × frequency grid, a group's segment one click away), a member's behaviour card
and order items, and a marketer building "bought tea in the last 90 days" in the segment
editor."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from playwright.sync_api import expect
from sqlalchemy import func, select

from herald.audiences import rfm, segments
from herald.audiences.models import Contact, ContactScore, Segment
from herald.core import clock
from herald.core.accounts import create_user
from herald.intake import shop
from tests.web.screenshots import CHROMIUM, VIEWPORT, chromium, live_server, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"{CHROMIUM} is missing (apt-get install -y chromium; no browser downloads)",
    ),
]

PASSWORD = "behaviour-test-pass"
TEA = {"sku": "TEA-1", "name": "Longjing", "category": "tea", "qty": 1, "price": "80.00"}
CUP = {"sku": "CUP-1", "name": "Cup", "category": "cups", "qty": 2, "price": "25.00"}
# (member, [(days ago, items, total)]): who bought what, when
ORDERS: list[tuple[str, list[tuple[int, list[dict[str, Any]], str]]]] = [
    ("ann", [(3, [TEA, CUP], "130.00"), (40, [TEA], "80.00"), (70, [TEA], "80.00")]),
    ("bob", [(5, [CUP], "50.00")]),
    ("cy", [(120, [TEA], "80.00")]),  # tea, but not in the last 90 days
    ("dee", [(10, [TEA], "80.00"), (200, [CUP], "900.00")]),
    ("eve", [(300, [CUP], "50.00")]),
    ("fay", [(60, [CUP, TEA], "130.00"), (61, [CUP], "50.00")]),
]
TEA_90 = sorted(["ann", "dee", "fay"])


@pytest.fixture
def backend() -> str:
    """Browser tests run on SQLite only: the SQL is covered on both by test_behaviour.py."""
    return "sqlite"


@pytest.fixture
def shop_data(db: Any) -> dict[str, int]:
    """Members with orders through the shop webhook path, then a recompute; name -> id."""
    with db.session() as session:
        create_user(session, "marketer@example.com", PASSWORD, "marketer")
        for name, orders in ORDERS:
            customer = {"external_id": name, "email": f"{name}@shop.cn", "first_name": name}
            shop.receive(session, "customer.created", {"customer": customer})
            for n, (days, items, total) in enumerate(orders):
                order = {
                    "id": f"{name}-{n}",
                    "customer_external_id": name,
                    "total": total,
                    "placed_at": (clock.now() - timedelta(days=days)).isoformat(),
                    "items": items,
                }
                shop.receive(session, "order.placed", {"order": order}, zone=ZoneInfo("UTC"))
        shop.receive(session, "customer.created", {"customer": {"external_id": "gus"}})
        rfm.recompute(session)
        session.commit()
        return dict(session.execute(select(Contact.external_id, Contact.id)).all())


def test_the_rfm_page_counts_groups_and_opens_a_groups_segment(app, db, shop_data):  # type: ignore[no-untyped-def]
    with db.session() as session:
        by_group = dict(
            session.execute(
                select(ContactScore.rfm_group, func.count()).group_by(ContactScore.rfm_group)
            ).all()
        )
        ann = session.get(Contact, shop_data["ann"])
        ann_group, ann_scores = ann.rfm_group, (ann.rfm_recency, ann.rfm_frequency)
    assert sum(by_group.values()) == len(ORDERS)  # gus has no orders, so no scores
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.click("a.dropdown-toggle:has-text('Audience')")  # the menu's Audience drop-down
        page.click("a.dropdown-item:has-text('RFM')")
        page.wait_for_url(f"{base}/admin/rfm/")
        for group in rfm.GROUPS:
            row = page.locator(f"#rfm-groups tr[data-group={group}] .rfm-count")
            expect(row).to_have_text(str(by_group.get(group, 0)))
        cell = page.locator(f"#rfm-grid td[data-cell='{ann_scores[0]}-{ann_scores[1]}']")
        assert int(cell.inner_text()) >= 1
        cells = page.locator("#rfm-grid td[data-cell]")
        assert cells.count() == 25
        assert sum(int(cells.nth(i).inner_text()) for i in range(25)) == len(ORDERS)

        page.click(f"[data-role=segment-{ann_group}]")
        page.wait_for_url(f"{base}/admin/segments/edit/**")
        expect(page.locator("#segment-count")).to_have_text(str(by_group[ann_group]))
        assert "ann@shop.cn" in page.inner_text("#segment-sample")
        rules = json.loads(page.eval_on_selector("#rules_json", "e => e.value"))
        assert rules == {"all": [{"field": "rfm.group", "op": "in", "value": [ann_group]}]}
        chip = page.locator(f"[data-role=group-{ann_group}]")
        assert chip.get_attribute("aria-pressed") == "true"  # the builder shows the group

        # the contacts list shows each member's group
        page.goto(f"{base}/admin/contacts/")
        assert "RFM group" in page.inner_text("table thead")
        assert ann_group in page.inner_text("table tbody")

        # the member page: scores, group, favourite category, referral code, order items
        page.goto(f"{base}/admin/members/{shop_data['ann']}/")
        expect(page.locator("#rfm-group")).to_have_text(rfm.GROUP_LABELS[ann_group])
        assert page.inner_text("#favourite-category") == "tea"
        with db.session() as session:
            code = session.get(Contact, shop_data["ann"]).referral_code
        assert page.inner_text("#referral-code") == code
        items = page.locator("#order-items tbody tr")
        assert items.count() == 4
        assert "CUP-1" in items.nth(0).inner_text() or "TEA-1" in items.nth(0).inner_text()
    with db.session() as session:
        names = session.scalars(select(Segment.name)).all()
    assert names == [f"RFM: {rfm.GROUP_LABELS[ann_group]}"]


def test_a_marketer_builds_bought_tea_in_the_last_90_days(app, db, shop_data):  # type: ignore[no-untyped-def]
    expected = {"all": [{"event": "order.placed", "within_days": 90, "min_count": 1}]}
    expected["all"][0]["category"] = "tea"
    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/segments/new/")
        expect(page.locator("#segment-count")).to_have_text(str(len(shop_data)))
        page.fill("#name", "Tea buyers, last 90 days")
        page.click("#segment-tree > .rule-group > .rule-group-head [data-role=add-condition]")
        row = page.locator("#segment-tree .rule-condition").nth(0)
        row.locator("[data-role=field]").select_option("event:order.placed")
        row.locator("[data-role=event-days]").fill("90")
        row.locator("[data-role=event-category]").fill("tea")
        expect(page.locator("#segment-count")).to_have_text(str(len(TEA_90)))
        sample = page.inner_text("#segment-sample")
        assert all(f"{name}@shop.cn" in sample for name in TEA_90)
        assert "cy@shop.cn" not in sample
        assert json.loads(page.eval_on_selector("#rules_json", "e => e.value")) == expected

        # a typo in a hand edit is named in the marketer's words, nothing saved
        page.click("#segment-json-toggle")
        broken = {"all": [{**expected["all"][0], "catgory": "tea"}]}
        broken["all"][0].pop("category")
        page.fill("#rules_json", json.dumps(broken))
        expect(page.locator("#segment-error")).to_contain_text("unknown key 'catgory'")
        page.fill("#rules_json", json.dumps(expected))
        expect(page.locator("#segment-count")).to_have_text(str(len(TEA_90)))
        page.click("input[type=submit][value=Save]")
        page.wait_for_url(f"{base}/admin/segments/")
    with db.session() as session:
        segment = session.scalars(select(Segment)).one()
        assert segment.rules == expected
        found = session.scalars(segments.members(segment.rules)).all()
        assert sorted(session.get(Contact, i).external_id for i in found) == TEA_90
