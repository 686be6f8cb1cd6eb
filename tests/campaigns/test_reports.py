"""The weekly report's data and its API, on a fixed story built through the real send pipeline.

Zone: Asia/Shanghai (UTC+8). ISO week 2026-W46 is 2026-11-09 00:00+08 (= 11-08 16:00Z) to
2026-11-16 00:00+08; 2026-W47 runs to 2026-11-23 00:00+08 (= 11-22 16:00Z).

- "Newsletter" (recurring, Wednesdays 10:00 Shanghai): one run in W46 and one in W47.
- "Flash sale" (A/B test) sent 2026-11-15 17:00Z: Sunday in UTC but Monday 01:00 in Shanghai, so
  W47 here (it would be W46 in UTC).
- "Cart reminder", sent 2026-11-22 17:00Z (Monday 01:00 W48 in Shanghai), then marked as a
  trigger's campaign: outside W47.

Ten members; every message goes through ticks, batches, the ledger and a real SMTP server.
Engagement is then written as events on the runs' deliveries.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from herald.audiences.models import Event
from herald.campaigns import service
from herald.campaigns.metrics import RATES
from herald.campaigns.models import Campaign, Delivery, Run
from herald.core import clock
from herald.core.db import Database
from herald.core.errors import ValidationError
from herald.core.settings import Settings
from herald.reports.weekly import build_weekly_report, parse_week
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members

SHANGHAI = ZoneInfo("Asia/Shanghai")
SALE = "https://shop.example/sale"
NEW = "https://shop.example/new"


def at(moment: datetime) -> None:
    """Set Herald's clock to ``moment``."""
    clock.reset()
    clock.shift(moment - datetime.now(UTC))


@dataclass
class Story:
    newsletter: int
    flash_sale: int
    cart_reminder: int
    runs: dict[str, int]


def _create(db: Database, settings: Settings, body: dict[str, Any]) -> int:
    with db.session() as session:
        return service.create_campaign(session, body, settings.timezone).id


def _send_now(db: Database, settings: Settings, campaign_id: int) -> None:
    with db.session() as session:
        service.send_now(session, service.get_campaign(session, campaign_id))
    drain(db, settings)


def _last_run(db: Database, campaign_id: int) -> int:
    with db.session() as session:
        return session.scalars(
            select(Run.id).where(Run.campaign_id == campaign_id).order_by(Run.id.desc())
        ).first()


def _deliveries(db: Database, run_id: int) -> list[Delivery]:
    with db.session() as session:
        return list(
            session.scalars(
                select(Delivery).where(Delivery.run_id == run_id).order_by(Delivery.contact_id)
            )
        )


def _event(delivery: Delivery, campaign_id: int, kind: str, when: datetime, **data: Any) -> Event:
    machine = bool(data.pop("machine", False))
    return Event(
        contact_id=delivery.contact_id,
        type=kind,
        campaign_id=campaign_id,
        run_id=delivery.run_id,
        delivery_id=delivery.id,
        occurred_at=when,
        machine=machine,
        data=data,
    )


def _order(contact_id: int, when: datetime, total: str, order_id: str) -> Event:
    return Event(
        contact_id=contact_id,
        type="order.placed",
        occurred_at=when,
        data={"order_id": order_id, "total": total},
    )


def build_story(db: Database, settings: Settings) -> Story:
    """Send the three campaigns at their instants and write their engagement."""
    seed_members(db, 10)
    at(datetime(2026, 11, 10, 12, 0, tzinfo=UTC))
    newsletter = _create(
        db,
        settings,
        email_campaign(
            name="Newsletter",
            schedule={"type": "recurring", "cron": "0 10 * * wed", "timezone": "Asia/Shanghai"},
        ),
    )
    with db.session() as session:
        service.arm(session, service.get_campaign(session, newsletter), settings.timezone)
    at(datetime(2026, 11, 11, 2, 0, 5, tzinfo=UTC))  # Wed 10:00:05 Shanghai, W46
    drain(db, settings)
    run_w46 = _last_run(db, newsletter)
    at(datetime(2026, 11, 15, 17, 0, tzinfo=UTC))
    flash_sale = _create(
        db,
        settings,
        email_campaign(
            name="Flash sale 双11",
            variants=[
                {"name": "A", "subject": "Sale", "html": "<p>A</p>", "text": "A"},
                {"name": "B", "subject": "SALE!", "html": "<p>B</p>", "text": "B"},
            ],
            ab_test={
                "test_fraction": 0.2,
                "metric": "click_rate",
                "decide_after_hours": 1,
                "confidence": 0.95,
                "fallback": "A",
            },
        ),
    )
    _send_now(db, settings, flash_sale)
    at(datetime(2026, 11, 15, 18, 0, 10, tzinfo=UTC))
    drain(db, settings)  # the decision (no clicks yet: fallback A) and the remainder
    run_sale = _last_run(db, flash_sale)

    at(datetime(2026, 11, 18, 2, 0, 5, tzinfo=UTC))  # Wed 10:00:05 Shanghai, W47
    drain(db, settings)
    run_w47 = _last_run(db, newsletter)

    at(datetime(2026, 11, 22, 17, 0, tzinfo=UTC))
    cart = _create(db, settings, email_campaign(name="Cart reminder"))
    _send_now(db, settings, cart)
    run_cart = _last_run(db, cart)
    with db.session() as session:
        session.get(Campaign, cart).schedule = {"type": "trigger", "trigger_id": 1}

    _engage(db, newsletter, run_w46, run_w47, flash_sale, run_sale, cart, run_cart)
    clock.reset()
    return Story(
        newsletter,
        flash_sale,
        cart,
        {"w46": run_w46, "w47": run_w47, "sale": run_sale, "cart": run_cart},
    )


def _engage(
    db: Database,
    newsletter: int,
    run_w46: int,
    run_w47: int,
    flash_sale: int,
    run_sale: int,
    cart: int,
    run_cart: int,
) -> None:
    w46 = _deliveries(db, run_w46)
    w47 = _deliveries(db, run_w47)
    sale = _deliveries(db, run_sale)
    carts = _deliveries(db, run_cart)
    t46 = datetime(2026, 11, 11, 3, 0, tzinfo=UTC)
    t47 = datetime(2026, 11, 18, 3, 0, tzinfo=UTC)
    events: list[Event] = []
    # W46 newsletter: 4 opens, 2 clickers, 1 order of 100.00
    events += [_event(d, newsletter, "email.opened", t46) for d in w46[:4]]
    events += [_event(d, newsletter, "email.clicked", t46, url=SALE) for d in w46[:2]]
    events.append(_order(w46[0].contact_id, t46 + timedelta(hours=2), "100.00", "o-1"))
    # W47 newsletter: 5 opens (+1 machine), 3 clickers, 4 clicks, 2 orders, 1 unsubscribe
    events += [_event(d, newsletter, "email.opened", t47) for d in w47[:5]]
    events.append(_event(w47[9], newsletter, "email.opened", t47, machine=True))
    events += [_event(d, newsletter, "email.clicked", t47, url=SALE) for d in w47[:2]]
    events.append(_event(w47[0], newsletter, "email.clicked", t47, url=SALE))
    events.append(_event(w47[2], newsletter, "email.clicked", t47, url=NEW))
    events.append(_event(w47[9], newsletter, "email.clicked", t47, url=NEW, machine=True))
    events.append(_order(w47[1].contact_id, t47 + timedelta(hours=1), "50.00", "o-2"))
    events.append(_order(w47[2].contact_id, t47 + timedelta(days=1), "70.50", "o-3"))
    events.append(_event(w47[4], newsletter, "unsubscribed", t47))
    # Flash sale (W47 in Shanghai): 2 opens, 1 click by a member who orders nothing
    t_sale = datetime(2026, 11, 16, 1, 0, tzinfo=UTC)
    events += [_event(d, flash_sale, "email.opened", t_sale) for d in sale[6:8]]
    events.append(_event(sale[7], flash_sale, "email.clicked", t_sale, url=SALE))
    # Cart reminder (W48): a click that must not appear among W47's top links
    events.append(
        _event(carts[5], cart, "email.clicked", datetime(2026, 11, 22, 18, 0, tzinfo=UTC), url=NEW)
    )
    with db.session() as session:
        session.add_all(events)


EXPECTED_NEWSLETTER_W47 = {
    "recipients": 10,
    "sent": 10,
    "delivered": 10,
    "failed": 0,
    "bounced": 0,
    "suppressed": 0,
    "unique_opens": 5,
    "opens": 5,
    "machine_opens": 1,
    "unique_clicks": 3,
    "clicks": 4,
    "unsubscribes": 1,
    "complaints": 0,
    "conversions": 2,
    "revenue": 120.5,
    "open_rate": 0.5,
    "click_rate": 0.3,
    "ctor": 0.6,
    "unsubscribe_rate": 0.1,
    "conversion_rate": 0.2,
}
EXPECTED_NEWSLETTER_W46 = {
    "sent": 10,
    "unique_opens": 4,
    "opens": 4,
    "unique_clicks": 2,
    "clicks": 2,
    "unsubscribes": 0,
    "conversions": 1,
    "revenue": 100.0,
    "open_rate": 0.4,
    "click_rate": 0.2,
    "ctor": 0.5,
    "conversion_rate": 0.1,
}


# --------------------------------------------------------------------------- fixtures


@pytest.fixture
def story_settings(tmp_path: Path, database_url: str, smtp_server) -> Settings:  # type: ignore[no-untyped-def]
    _, port = smtp_server
    return make_settings(
        tmp_path,
        database_url,
        smtp_port=str(port),
        timezone="Asia/Shanghai",
        report_recipients="boss@shop.example,team@shop.example",
    )


@pytest.fixture
def story(db: Database, story_settings: Settings) -> Story:
    return build_story(db, story_settings)


@pytest.fixture
def shanghai_client(story_settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from herald.web.app import create_app

    application = create_app(story_settings, db)
    application.config.update(TESTING=True)
    return application.test_client()


def report_for(db: Database, label: str, zone: ZoneInfo = SHANGHAI) -> dict[str, Any]:
    with db.session() as session:
        return build_weekly_report(session, parse_week(label, zone))


# --------------------------------------------------------------------------- weeks


def test_a_week_runs_from_monday_midnight_to_the_next_in_the_zone() -> None:
    week = parse_week("2026-W47", SHANGHAI)
    assert week.start == datetime(2026, 11, 16, tzinfo=SHANGHAI)
    assert week.end == datetime(2026, 11, 23, tzinfo=SHANGHAI)
    assert week.start.astimezone(UTC) == datetime(2026, 11, 15, 16, 0, tzinfo=UTC)
    assert week.previous().label == "2026-W46"
    assert parse_week("2027-W01", SHANGHAI).previous().label == "2026-W53"


def test_the_default_week_is_the_iso_week_before_the_current_one_in_the_zone() -> None:
    # Monday 2026-11-23 01:00 in Shanghai is still Sunday 17:00 on 2026-11-22 in UTC
    now = datetime(2026, 11, 22, 17, 0, tzinfo=UTC)
    assert parse_week(None, SHANGHAI, now).label == "2026-W47"
    assert parse_week(None, ZoneInfo("UTC"), now).label == "2026-W46"


@pytest.mark.parametrize(
    "text",
    ["2026-47", "2026-W5", "W47", "2026-W00", "2025-W53", "x", "0000-W01", "0001-W01", "9999-W52"],
)
def test_a_malformed_or_impossible_week_is_refused_naming_week(text: str) -> None:
    with pytest.raises(ValidationError) as caught:
        parse_week(text, SHANGHAI)
    assert set(caught.value.fields) == {"week"}


# --------------------------------------------------------------------------- the report


def test_the_report_counts_runs_started_in_the_week_with_metrics_and_changes(
    db: Database, story: Story
) -> None:
    report = report_for(db, "2026-W47")

    assert report["week"] == "2026-W47"
    assert report["from"] == "2026-11-16T00:00:00+08:00"
    assert report["to"] == "2026-11-23T00:00:00+08:00"
    # the flash sale started Sunday 17:00 UTC = Monday 01:00 in Shanghai: this week;
    # the cart reminder Monday 01:00 of the next week: not
    assert [(c["id"], c["name"], c["kind"]) for c in report["campaigns"]] == [
        (story.newsletter, "Newsletter", "campaign"),
        (story.flash_sale, "Flash sale 双11", "campaign"),
    ]
    newsletter, sale = report["campaigns"]
    assert {k: newsletter["metrics"][k] for k in EXPECTED_NEWSLETTER_W47} == (
        EXPECTED_NEWSLETTER_W47
    )
    assert newsletter["runs"] == 1

    change = newsletter["change"]
    assert change["sent"] == {"previous": 10, "absolute": 0, "relative": 0.0}
    assert change["unique_opens"] == {"previous": 4, "absolute": 1, "relative": 0.25}
    assert change["unique_clicks"] == {"previous": 2, "absolute": 1, "relative": 0.5}
    assert change["conversions"] == {"previous": 1, "absolute": 1, "relative": 1.0}
    assert change["revenue"] == {"previous": 100.0, "absolute": 20.5, "relative": 0.205}
    assert change["open_rate"] == {"previous": 0.4, "absolute": 0.1, "relative": 0.25}
    assert change["click_rate"] == {"previous": 0.2, "absolute": 0.1, "relative": 0.5}
    assert change["ctor"] == {"previous": 0.5, "absolute": 0.1, "relative": 0.2}
    assert change["unsubscribes"] == {"previous": 0, "absolute": 1, "relative": None}

    assert sale["change"] is None  # nothing the week before to compare with
    assert {
        k: sale["metrics"][k]
        for k in ("sent", "unique_opens", "unique_clicks", "open_rate", "click_rate", "ctor")
    } == {
        "sent": 10,
        "unique_opens": 2,
        "unique_clicks": 1,
        "open_rate": 0.2,
        "click_rate": 0.1,
        "ctor": 0.5,
    }

    totals = report["totals"]
    assert {k: totals[k] for k in ("recipients", "sent", "unique_opens", "opens")} == {
        "recipients": 20,
        "sent": 20,
        "unique_opens": 7,
        "opens": 7,
    }
    assert (totals["unique_clicks"], totals["clicks"], totals["machine_opens"]) == (4, 5, 1)
    assert (totals["unsubscribes"], totals["conversions"], totals["revenue"]) == (1, 2, 120.5)
    assert totals["open_rate"] == 0.35 and totals["click_rate"] == 0.2
    assert totals["ctor"] == 4 / 7 and totals["unsubscribe_rate"] == 0.05
    assert {k: report["previous_totals"][k] for k in EXPECTED_NEWSLETTER_W46} == (
        EXPECTED_NEWSLETTER_W46
    )
    for name in RATES:
        assert 0 <= totals[name] <= 1


def test_the_report_has_top_links_and_ab_outcomes(db: Database, story: Story) -> None:
    report = report_for(db, "2026-W47")

    # human clicks in the week only: no bot click, nothing from W46 or W48
    assert report["top_links"] == [
        {"url": SALE, "clicks": 4, "unique_clickers": 3},
        {"url": NEW, "clicks": 1, "unique_clickers": 1},
    ]
    [test] = report["ab_tests"]
    assert test["campaign_id"] == story.flash_sale
    assert test["status"] == "decided"
    # one member per variant in the test group: far below the minimum sample
    assert (test["winner"], test["reason"], test["metric"]) == ("A", "too_few", "click_rate")
    assert test["values"] == {"A": 0.0, "B": 0.0}
    assert test["sentence"].startswith("Too few deliveries to decide (needs ")
    assert test["sentence"].endswith("A, the fallback, went to the remaining 8.")
    assert set(test["variants"]) == {"A", "B"}
    assert test["variants"]["A"]["sent"] + test["variants"]["B"]["sent"] == 10


def test_a_triggers_campaign_is_reported_as_a_trigger(db: Database, story: Story) -> None:
    report = report_for(db, "2026-W48")
    assert [(c["name"], c["kind"]) for c in report["campaigns"]] == [("Cart reminder", "trigger")]
    assert report["top_links"] == [{"url": NEW, "clicks": 1, "unique_clickers": 1}]
    assert report["previous_totals"]["sent"] == 20


def test_the_same_runs_fall_in_other_weeks_in_utc(db: Database, story: Story) -> None:
    utc = ZoneInfo("UTC")
    assert [c["name"] for c in report_for(db, "2026-W46", utc)["campaigns"]] == [
        "Newsletter",
        "Flash sale 双11",
    ]
    assert [c["name"] for c in report_for(db, "2026-W47", utc)["campaigns"]] == [
        "Newsletter",
        "Cart reminder",
    ]


def test_an_empty_week_has_zero_totals_and_no_previous_data(db: Database) -> None:
    report = report_for(db, "2026-W10")
    assert report["campaigns"] == [] and report["top_links"] == [] and report["ab_tests"] == []
    assert report["totals"]["sent"] == 0 and report["totals"]["open_rate"] == 0.0
    assert report["totals_change"] is None


# --------------------------------------------------------------------------- the API


def test_the_api_answers_the_report_for_a_week(
    shanghai_client, auth: dict[str, str], db: Database, story: Story
) -> None:
    answer = shanghai_client.get("/api/v1/reports/weekly?week=2026-W47", headers=auth)
    assert answer.status_code == 200, answer.json
    assert answer.json == json.loads(json.dumps(report_for(db, "2026-W47")))
    assert set(answer.json) >= {
        "week",
        "from",
        "to",
        "totals",
        "previous_totals",
        "campaigns",
        "ab_tests",
        "top_links",
    }


def test_the_api_defaults_to_last_week_and_refuses_a_malformed_week(
    shanghai_client, auth: dict[str, str]
) -> None:
    at(datetime(2026, 11, 22, 17, 0, tzinfo=UTC))  # Monday 01:00 in Shanghai
    answer = shanghai_client.get("/api/v1/reports/weekly", headers=auth)
    assert answer.status_code == 200 and answer.json["week"] == "2026-W47"

    bad = shanghai_client.get("/api/v1/reports/weekly?week=2026-47", headers=auth)
    assert bad.status_code == 422
    assert list(bad.json["error"]["fields"]) == ["week"]
    assert shanghai_client.get("/api/v1/reports/weekly").status_code == 401


def test_the_openapi_document_lists_the_report(shanghai_client) -> None:
    paths = shanghai_client.get("/api/v1/openapi.json").json["paths"]
    parameters = paths["/reports/weekly"]["get"]["parameters"]
    assert [p["name"] for p in parameters] == ["week", "format"]
    assert "/reports/weekly.pdf" in paths
