"""One seeded data set, several campaigns on two channels, orders credited once: the stats API,
the weekly report's JSON and its CSV agree to the unit, and each order is credited to at most one
message (coupon first, else the last human click within 5 days, at whole seconds)."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from sqlalchemy import select

from herald.audiences.models import Event
from herald.campaigns import metrics
from herald.campaigns.attribution import Click, credited_click
from herald.campaigns.coupons import Coupon
from herald.campaigns.models import Delivery, Run
from herald.core import clock
from tests.channels.fake_provider import Answer, fake_provider
from tests.channels.members import add_member, start_campaign
from tests.conftest import make_settings
from tests.helpers import drain

T0 = datetime(2026, 11, 17, 9, 0, tzinfo=UTC)  # Tuesday of ISO week 2026-W47 (UTC)
FIELDS = (*metrics.COUNTS, "revenue", *metrics.RATES, *metrics.MONEY)


def at(moment: datetime) -> None:
    clock.reset()
    clock.shift(moment - datetime.now(UTC))


def twilio_ok(seen) -> Answer:  # type: ignore[no-untyped-def]
    return Answer(201, {"sid": f"SM{seen.form()['To'][-6:]}", "status": "queued"})


def _deliveries(db, campaign_id: int) -> list[Delivery]:  # type: ignore[no-untyped-def]
    with db.session() as session:
        return list(
            session.scalars(
                select(Delivery)
                .join(Run, Run.id == Delivery.run_id)
                .where(Run.campaign_id == campaign_id)
                .order_by(Delivery.contact_id)
            )
        )


def _click(delivery: Delivery, campaign_id: int, when: datetime, machine: bool = False) -> Event:
    return Event(
        contact_id=delivery.contact_id,
        type="email.clicked",  # what /t/c records, for email and SMS links alike
        campaign_id=campaign_id,
        run_id=delivery.run_id,
        delivery_id=delivery.id,
        occurred_at=when,
        machine=machine,
        data={"url": "https://shop.example/sale"},
    )


def _order(contact_id: int, when: datetime, total: str, order_id: str, code: str = "") -> Event:
    data: dict[str, Any] = {"order_id": order_id, "total": total}
    if code:
        data["coupon_code"] = code
    return Event(contact_id=contact_id, type="order.placed", occurred_at=when, data=data)


@pytest.fixture
def seeded(db, tmp_path, database_url, smtp_server):  # type: ignore[no-untyped-def]
    """Six members; an email newsletter, an SMS flash sale and a second email, all in W47."""
    _, port = smtp_server
    with fake_provider(twilio_ok) as provider:
        settings = make_settings(
            tmp_path,
            database_url,
            smtp_port=str(port),
            sms_api_url=provider.url,
            sms_account_sid="AC123",
            sms_auth_token="secret-token",
            sms_from="+15005550006",
            sms_quiet_hours="off",
        )
        for i in range(6):
            add_member(
                db,
                external_id=f"m{i}",
                email=f"m{i}@example.com",
                phone=f"+86138001380{i:02d}",
                first_name=f"M{i}",
                consent={"email": True, "sms": True},
            )
        at(T0)
        html = "<p>Hi</p><a href='https://shop.example/sale'>Sale</a>"
        newsletter = start_campaign(
            db,
            {
                "name": "Newsletter",
                "channel": "email",
                "variants": [{"name": "A", "subject": "News", "html": html, "text": "News"}],
            },
        )
        drain(db, settings)
        at(T0 + timedelta(hours=1))
        flash = start_campaign(
            db,
            {
                "name": "Flash SMS",
                "channel": "sms",
                "variants": [{"name": "A", "body": "Sale today https://shop.example/sale"}],
            },
        )
        drain(db, settings)
        at(T0 + timedelta(hours=2))
        second = start_campaign(
            db,
            {
                "name": "Second email",
                "channel": "email",
                "variants": [{"name": "A", "subject": "More", "html": html, "text": "More"}],
            },
        )
        drain(db, settings)
    news, sms, more = (_deliveries(db, c) for c in (newsletter, flash, second))
    assert [len(news), len(sms), len(more)] == [6, 6, 6]
    assert {d.status for d in news + sms + more} == {"sent"}
    t = T0 + timedelta(hours=3)
    events = [
        # m0 clicks the email, then the SMS: the order goes to the SMS (the last click)
        _click(news[0], newsletter, t),
        _click(sms[0], flash, t + timedelta(hours=1)),
        _order(news[0].contact_id, t + timedelta(hours=2), "100.00", "o-1"),
        # m1 clicks the email 0.4 s into a second; the shop's order carries that same second
        _click(news[1], newsletter, t.replace(microsecond=400_000)),
        _order(news[1].contact_id, t, "40.00", "o-2"),
        # m2 has the newsletter's coupon, later clicks the second email: the coupon wins
        _click(more[2], second, t + timedelta(hours=1)),
        _order(news[2].contact_id, t + timedelta(hours=2), "60.00", "o-3", code="m1-abcd-efgh"),
        # m3's only click is 5 days and 1 second before the order: no credit
        _click(news[3], newsletter, t),
        _order(news[3].contact_id, t + timedelta(days=5, seconds=1), "999.00", "o-4"),
        # m4 clicks exactly 5 days before: credited; a bot click later is not a click
        _click(more[4], second, t),
        _click(sms[4], flash, t + timedelta(days=1), machine=True),
        _order(news[4].contact_id, t + timedelta(days=5), "25.50", "o-5"),
        # m5 orders without any click: nobody's conversion
        _order(news[5].contact_id, t, "70.00", "o-6"),
    ]
    with db.session() as session:
        session.add_all(events)
        session.add(
            Coupon(
                code="M1-ABCD-EFGH",
                campaign_id=newsletter,
                run_id=news[2].run_id,
                contact_id=news[2].contact_id,
                delivery_id=news[2].id,
                percent_off=10,
                valid_from=T0,
                valid_until=T0 + timedelta(days=7),
                redeemed_at=t + timedelta(hours=2),
                order_id="o-3",
            )
        )
    clock.reset()
    return {"newsletter": newsletter, "flash": flash, "second": second, "settings": settings}


def test_each_order_is_credited_once_across_campaigns_and_channels(db, seeded):
    with db.session() as session:
        credited = {
            name: sorted(
                (order.via, str(order.revenue))
                for order in metrics.conversion_orders(
                    session,
                    list(session.scalars(select(Run.id).where(Run.campaign_id == seeded[name]))),
                )
            )
            for name in ("newsletter", "flash", "second")
        }
    assert credited == {
        "newsletter": [("click", "40.00"), ("coupon", "60.00")],
        "flash": [("click", "100.00")],
        "second": [("click", "25.50")],
    }


def test_the_stats_api_the_weekly_json_and_the_csv_agree_to_the_unit(db, seeded, client, auth):
    stats = {
        name: client.get(f"/api/v1/campaigns/{seeded[name]}/stats", headers=auth).json["total"]
        for name in ("newsletter", "flash", "second")
    }
    report = client.get("/api/v1/reports/weekly?week=2026-W47", headers=auth).json
    answer = client.get("/api/v1/reports/weekly?week=2026-W47&format=csv", headers=auth)
    assert answer.status_code == 200 and answer.mimetype == "text/csv"
    rows = {int(r["id"]): r for r in csv.DictReader(io.StringIO(answer.get_data(as_text=True)))}

    by_id = {c["id"]: c for c in report["campaigns"]}
    assert set(by_id) == set(rows) == {seeded[n] for n in stats}
    for name, total in stats.items():
        weekly, row = by_id[seeded[name]]["metrics"], rows[seeded[name]]
        for field in FIELDS:
            assert weekly[field] == total[field], (name, field)
            assert Decimal(row[field]) == Decimal(str(total[field])), (name, field)
    # the numbers themselves: one credit per order, revenue counted once
    assert [stats[n]["conversions"] for n in ("newsletter", "flash", "second")] == [2, 1, 1]
    assert [stats[n]["revenue"] for n in ("newsletter", "flash", "second")] == [100.0, 100.0, 25.5]
    assert report["totals"]["revenue"] == 225.5 and report["totals"]["conversions"] == 4
    assert stats["newsletter"]["average_order_value"] == 50.0
    assert stats["newsletter"]["revenue_per_recipient"] == round(100 / 6, 4)
    assert (stats["newsletter"]["coupons_issued"], stats["newsletter"]["coupons_redeemed"]) == (
        1,
        1,
    )
    assert stats["flash"]["unique_clicks"] == 1 and stats["flash"]["clicks"] == 1  # bot left out
    assert report["totals"]["coupons_issued"] == 1


def test_the_stats_api_gives_every_variant_wilson_intervals(db, seeded, client, auth):
    answer = client.get(f"/api/v1/campaigns/{seeded['newsletter']}/stats", headers=auth).json
    variant = answer["variants"]["A"]
    low, high = variant["ci"]["click_rate"]
    assert low < variant["click_rate"] < high
    assert set(variant["ci"]) == {"open_rate", "click_rate", "conversion_rate"}


def _c(seconds: float, delivery: int = 1) -> Click:
    return Click(T0 + timedelta(seconds=seconds), delivery, int(seconds * 10))


@pytest.mark.parametrize(
    ("clicks", "placed", "credited"),
    [
        ([_c(0.4)], T0, 1),  # same whole second as the order
        ([_c(1.0)], T0, None),  # a second after the order
        ([_c(-5 * 86400)], T0, 1),  # exactly five days before
        ([_c(-5 * 86400 - 1)], T0, None),  # one second more
        ([_c(-60, 1), _c(-30, 2), _c(10, 3)], T0, 2),  # the last click before the order
    ],
)
def test_the_click_an_order_is_credited_to(clicks, placed, credited):
    found = credited_click(placed, clicks)
    assert (found.delivery_id if found else None) == credited
