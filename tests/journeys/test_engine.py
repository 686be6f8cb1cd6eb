"""Journeys end to end: signed shop webhooks in, the scheduler's tick moving members, the
ordinary sending path out to a real SMTP server and a Twilio-shaped HTTP server, tracking
requests for opens."""

from __future__ import annotations

import email
import re
from datetime import UTC, datetime, timedelta
from email.utils import parseaddr

from sqlalchemy import select

from herald.campaigns.models import Delivery
from herald.core import clock
from herald.journeys.models import JourneyEntry, JourneyVisit
from tests.journeys.support import cart, order, run, sign_up, welcome

SID = "AC0123456789abcdef"


def _activate(client, auth, body):  # type: ignore[no-untyped-def]
    created = client.post("/api/v1/journeys", json=body, headers=auth)
    assert created.status_code == 201, created.json
    journey = created.json
    assert (
        client.post(f"/api/v1/journeys/{journey['id']}/activate", headers=auth).status_code == 200
    )
    return journey


def _stats(client, auth, journey):  # type: ignore[no-untyped-def]
    return client.get(f"/api/v1/journeys/{journey['id']}/stats", headers=auth).json


def _at(moment: datetime) -> None:
    """Set the process clock to ``moment``."""
    clock.reset()
    clock.shift(moment - datetime.now(UTC))


def _to(message) -> str:  # type: ignore[no-untyped-def]
    return parseaddr(email.message_from_bytes(message.data)["To"])[1]


def test_welcome_branches_on_the_open_of_the_first_email(
    client, auth, db, settings, smtp_server, sms
):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    journey = _activate(client, auth, welcome())
    sign_up(client, "ann")
    sign_up(client, "bob", phone="+8613800000001", consent={"email": True, "sms": True})
    run(db, settings)
    hello = [email.message_from_bytes(m.data) for m in recorder.messages]
    assert sorted(m["Subject"] for m in hello) == ["Welcome Ann", "Welcome Bob"]
    # Ann opens hers (the pixel in the html part), Bob does not
    ann = next(m for m in hello if "ann@" in m["To"])
    html = (
        next(p for p in ann.walk() if p.get_content_type() == "text/html")
        .get_payload(decode=True)
        .decode()
    )
    pixel = re.search(r'http://herald\.test(/t/o/[^"]+\.gif)', html).group(1)
    assert client.get(pixel, headers={"User-Agent": "Thunderbird/115"}).status_code == 200
    run(db, settings)
    assert len(recorder.messages) == 2 and sms.seen == []  # two days to wait
    clock.shift(timedelta(minutes=2881))
    run(db, settings)
    offers = [email.message_from_bytes(m.data) for m in recorder.messages[2:]]
    assert [(parseaddr(m["To"])[1], m["Subject"]) for m in offers] == [
        ("ann@example.com", "10% off for you")
    ]
    assert [s.form()["To"] for s in sms.seen] == ["+8613800000001"]
    assert sms.seen[0].form()["Body"] == "Welcome Bob!"
    stats = _stats(client, auth, journey)
    assert stats["entered"] == 2 and stats["completed"] == 2 and stats["active"] == 0
    steps = stats["steps"]
    assert steps["hello"]["sent"] == 2 and steps["hello"]["unique_opens"] == 1
    assert steps["opened?"]["next"] == {"offer": 1, "sms": 1}
    assert steps["offer"]["entered"] == 1 and steps["sms"]["sent"] == 1
    run(db, settings)  # nothing more, ever
    assert len(recorder.messages) == 3 and len(sms.seen) == 1


def test_cart_recovery_exits_on_order_and_a_new_cart_later_enters_again(
    client, auth, db, settings, smtp_server
):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    body = {
        "name": "Cart recovery",
        "entry": {
            "event": "cart.abandoned",
            "filter": {"field": "tier", "op": "in", "value": ["new"]},
        },
        "exit_on": ["order.placed"],
        "re_entry": "after_exit",
        "steps": [
            {"id": "wait", "type": "wait", "minutes": 60, "next": "remind"},
            {
                "id": "remind",
                "type": "message",
                "channel": "email",
                "variants": [
                    {
                        "name": "A",
                        "subject": "Your {{ event['items'][0]['name'] }} is waiting",
                        "html": "<a href='{{ event.url }}'>Back to your cart</a>",
                    }
                ],
                "next": "exit",
            },
        ],
    }
    journey = _activate(client, auth, body)
    for name in ("ann", "bob"):
        sign_up(client, name)
        cart(client, name)
    run(db, settings)
    clock.shift(timedelta(minutes=30))
    order(client, "bob")  # Bob orders before the hour is up
    clock.shift(timedelta(minutes=31))
    run(db, settings)
    assert [(_to(m)) for m in recorder.messages] == ["ann@example.com"]
    message = email.message_from_bytes(recorder.messages[0].data)
    assert message["Subject"] == "Your Longjing tea is waiting"
    stats = _stats(client, auth, journey)
    assert (
        stats["exited"] == {"goal": 1, "by_event": {"order.placed": 1}} and stats["completed"] == 1
    )
    assert stats["entrants"]["conversions"] == 1 and stats["entrants"]["revenue"] == 120.0
    # the same day, Ann abandons another cart: she left the first pass, so she enters again
    cart(client, "ann", 2)
    clock.shift(timedelta(minutes=61))
    run(db, settings)
    assert [(_to(m)) for m in recorder.messages] == ["ann@example.com", "ann@example.com"]
    with db.session() as session:
        assert session.scalar(select(JourneyEntry.id).where(JourneyEntry.state == "active")) is None
        linked = session.scalars(
            select(JourneyVisit.delivery_id).where(JourneyVisit.step == "remind")
        )
        assert sorted(d is not None for d in linked) == [True, True]
        assert len(session.scalars(select(Delivery.id)).all()) == 2


def test_birthday_entry_at_ten_in_the_members_zone(client, auth, db, settings, smtp_server):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    sign_up(client, "mei", birthday="1990-03-01", timezone="Asia/Shanghai")
    sign_up(client, "sam", birthday="1990-03-01", timezone="America/Los_Angeles")
    sign_up(client, "kim", birthday="1990-06-01", timezone="Asia/Shanghai")
    # 1 March 2027, 01:30 UTC: 09:30 in Shanghai, still 28 February evening in Los Angeles
    _at(datetime(2027, 3, 1, 1, 30, tzinfo=UTC))
    body = {
        "name": "Birthday",
        "entry": {"date_field": "birthday", "offset_days": 0, "time": "10:00"},
        "steps": [
            {
                "id": "card",
                "type": "message",
                "channel": "email",
                "variants": [
                    {
                        "name": "A",
                        "subject": "Happy birthday {{ contact.first_name }}",
                        "html": "<p>!</p>",
                    }
                ],
                "next": "exit",
            }
        ],
    }
    journey = _activate(client, auth, body)
    run(db, settings)
    assert recorder.messages == []  # 09:30 in Shanghai
    _at(datetime(2027, 3, 1, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    run(db, settings)
    assert [_to(m) for m in recorder.messages] == ["mei@example.com"]
    _at(datetime(2027, 3, 1, 18, 0, tzinfo=UTC))  # 10:00 in Los Angeles
    run(db, settings)
    run(db, settings)
    assert sorted(_to(m) for m in recorder.messages) == ["mei@example.com", "sam@example.com"]
    _at(datetime(2027, 3, 2, 3, 0, tzinfo=UTC))
    run(db, settings)
    assert len(recorder.messages) == 2  # once a year
    assert _stats(client, auth, journey)["entered"] == 2
    with db.session() as session:
        assert sorted(session.scalars(select(JourneyEntry.occasion))) == ["birthday:2027"] * 2


def test_holdout_members_enter_are_counted_and_get_nothing(client, auth, db, settings, smtp_server):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    journey = _activate(client, auth, welcome(holdout=0.5, name="Half held"))
    names = [f"m{i:02d}" for i in range(40)]
    for name in names:
        sign_up(client, name)
    run(db, settings)
    with db.session() as session:
        held = set(session.scalars(select(JourneyEntry.contact_id).where(JourneyEntry.holdout)))
    assert 5 < len(held) < 35  # a fraction of one half, not none and not all
    assert len(recorder.messages) == 40 - len(held)
    for name in names[:4]:
        order(client, name)
    stats = _stats(client, auth, journey)
    assert stats["entered"] == 40
    assert stats["holdout"]["members"] == len(held)
    assert stats["entrants"]["members"] == 40 - len(held)
    assert stats["holdout"]["conversions"] + stats["entrants"]["conversions"] == 4
    assert stats["steps"]["hello"]["held"] == len(held)
    low, high = stats["lift"]["ci"]
    assert low < stats["lift"]["conversion_rate"] < high or stats["lift"]["conversion_rate"] == 0
