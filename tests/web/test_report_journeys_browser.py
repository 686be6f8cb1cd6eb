"""The weekly report page in a real Chromium: a marketer picks the week and reads the journey's
row (entered, completed, orders, revenue, holdout, and the lift with its interval), as the email
and PDF carry it."""

from __future__ import annotations

import pytest

from herald.core import clock
from herald.core.accounts import create_user
from herald.intake import shop as intake
from herald.journeys import service
from herald.reports import present
from herald.reports.weekly import build_weekly_report, week_of
from tests.web.screenshots import CHROMIUM, VIEWPORT, chromium, live_server, log_in

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing"),
]

PASSWORD = "browser-test-pass"
MEMBERS = 12


@pytest.fixture
def backend() -> str:
    return "sqlite"


def _receive(session, body):  # type: ignore[no-untyped-def]
    kind, data = intake.check(body)
    intake.receive(session, kind, data)


def test_a_marketer_reads_a_journeys_lift_in_the_weekly_report(app, db, settings):  # type: ignore[no-untyped-def]
    with db.session() as session:
        create_user(session, "marketer@example.com", PASSWORD, "marketer")
        journey = service.create(
            session,
            {
                "name": "Welcome series",
                "entry": {"event": "customer.created"},
                "holdout": 0.5,
                "steps": [{"id": "pause", "type": "wait", "minutes": 60, "next": "exit"}],
            },
            settings.timezone,
        )
        service.activate(session, journey)
    with db.session() as session:
        for i in range(MEMBERS):
            customer = {"external_id": f"w{i}", "email": f"w{i}@example.com"}
            _receive(session, {"type": "customer.created", "data": {"customer": customer}})
        for i in range(MEMBERS // 2):
            placed = {
                "id": f"o-{i}",
                "customer_external_id": f"w{i}",
                "total": "80.00",
                "currency": "CNY",
                "items": [],
            }
            _receive(session, {"type": "order.placed", "data": {"order": placed}})
    week = week_of(clock.now(), settings.timezone)
    with db.session() as session:
        row = build_weekly_report(session, week)["journeys"][0]
    assert row["entered"] == MEMBERS

    with live_server(app) as base, chromium() as browser:
        page = browser.new_page(viewport=VIEWPORT)
        errors: list[str] = []
        page.on("pageerror", lambda exc: errors.append(str(exc)))
        page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
        log_in(page, base, "marketer@example.com", PASSWORD)
        page.goto(f"{base}/admin/reports/")
        page.fill("#week", week.label)
        page.click("#show-week")
        page.wait_for_url(f"{base}/admin/reports/?week={week.label}")
        frame = page.frame_locator("iframe.report-frame")
        table = frame.locator("#report-journeys")
        table.wait_for()
        line = table.locator(f"tr[data-journey='{row['id']}']")
        assert "Welcome series" in line.inner_text()
        assert line.locator("[data-stat=entered]").inner_text() == str(MEMBERS)
        assert line.locator("[data-stat=completed]").inner_text() == "0"
        orders = line.locator("[data-stat=conversions]").inner_text()
        assert orders.splitlines()[0] == str(row["conversions"])
        assert line.locator("[data-stat=revenue]").inner_text() == f"{row['revenue']:,.2f}"
        holdout = line.locator("[data-stat=holdout]").inner_text()
        assert holdout.splitlines()[0] == str(row["holdout"]["members"])
        assert line.locator("[data-stat=lift]").inner_text() == present.lift_text(row)
        assert "pts (" in present.lift_text(row) or row["holdout"]["members"] == 0
        assert errors == []
