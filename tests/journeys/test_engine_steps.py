"""wait_for (the event moves a member on when it is stored; else the timeout), a weighted split
over a segment entry, and a paused journey edited and resumed with its members in place."""

from __future__ import annotations

import email
from datetime import timedelta
from email.utils import parseaddr

from sqlalchemy import func, insert, select, update

from herald.audiences.models import Consent, Contact, Segment
from herald.core import clock
from herald.journeys.models import JourneyEntry
from tests.conftest import make_settings
from tests.journeys.support import order, run, sign_up, welcome
from tests.journeys.test_engine import _activate, _stats


def _message(step_id: str, subject: str, next_step: str = "exit") -> dict:  # type: ignore[type-arg]
    return {
        "id": step_id,
        "type": "message",
        "channel": "email",
        "variants": [{"name": "A", "subject": subject, "html": "<p>x</p>"}],
        "next": next_step,
    }


def test_wait_for_an_order_or_the_timeout(client, auth, db, settings, smtp_server):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    body = {
        "name": "First order",
        "entry": {"event": "customer.created"},
        "steps": [
            {
                "id": "ordered?",
                "type": "wait_for",
                "event": "order.placed",
                "timeout_minutes": 60,
                "then": "thanks",
                "else": "nudge",
            },
            _message("thanks", "Thank you"),
            _message("nudge", "Still thinking?"),
        ],
    }
    journey = _activate(client, auth, body)
    sign_up(client, "ann")
    sign_up(client, "bob")
    run(db, settings)
    assert recorder.messages == []
    order(client, "ann")  # moves Ann on in the webhook's own transaction
    with db.session() as session:
        steps = dict(session.execute(select(JourneyEntry.contact_id, JourneyEntry.step)).all())
    assert sorted(steps.values()) == ["ordered?", "thanks"]
    run(db, settings)
    clock.shift(timedelta(minutes=61))
    run(db, settings)
    got = {
        parseaddr(m["To"])[1]: m["Subject"]
        for m in (email.message_from_bytes(r.data) for r in recorder.messages)
    }
    assert got == {"ann@example.com": "Thank you", "bob@example.com": "Still thinking?"}
    stats = _stats(client, auth, journey)
    assert stats["steps"]["ordered?"]["next"] == {"thanks": 1, "nudge": 1}
    assert stats["completed"] == 2


def test_a_weighted_split_over_a_segment_entry(client, auth, db, settings, smtp_server):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    with db.session() as session:
        session.execute(
            insert(Contact),
            [{"email": f"s{i}@example.com", "tier": "new", "attributes": {}} for i in range(200)],
        )
        ids = session.scalars(select(Contact.id)).all()
        session.execute(
            insert(Consent),
            [{"contact_id": i, "channel": "email", "granted": True, "source": "t"} for i in ids],
        )
        segment = Segment(name="Gold", rules={"field": "tier", "op": "eq", "value": "gold"})
        session.add(segment)
        session.flush()
        segment_id = segment.id
    body = {
        "name": "Split",
        "entry": {"segment_id": segment_id},
        "steps": [
            {
                "id": "coin",
                "type": "split",
                "paths": [{"weight": 3, "next": "a"}, {"weight": 1, "next": "b"}],
            },
            _message("a", "Path A"),
            _message("b", "Path B"),
        ],
    }
    journey = _activate(client, auth, body)
    run(db, settings)  # the journey starts watching the segment: nobody is in it yet
    with db.session() as session:
        session.execute(update(Contact).values(tier="gold"))  # all 200 join it
        session.commit()
    run(db, settings)
    run(db, settings)  # members already in do not enter again
    subjects = [email.message_from_bytes(m.data)["Subject"] for m in recorder.messages]
    assert len(subjects) == 200
    assert 120 <= subjects.count("Path A") <= 180, subjects.count("Path A")
    stats = _stats(client, auth, journey)
    assert stats["entered"] == 200
    assert stats["steps"]["coin"]["next"]["a"] == subjects.count("Path A")


def test_paused_edited_and_resumed_members_keep_their_place(  # type: ignore[no-untyped-def]
    client, auth, db, settings, smtp_server, sms
):
    journey = _activate(client, auth, welcome())
    sign_up(client, "bob", phone="+8613800000001", consent={"email": True, "sms": True})
    run(db, settings)
    path = f"/api/v1/journeys/{journey['id']}"
    assert client.post(f"{path}/pause", headers=auth).status_code == 200
    steps = client.get(path, headers=auth).json["steps"]
    steps[4]["variants"][0]["body"] = "Bob, a gift is waiting"
    assert client.patch(path, json={"steps": steps}, headers=auth).status_code == 200
    clock.shift(timedelta(minutes=2881))
    run(db, settings)
    assert sms.seen == []  # paused: nobody moves
    sign_up(client, "cat")  # nor enters
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(JourneyEntry)) == 1
        assert session.scalar(select(JourneyEntry.step)) == "wait1"
    assert client.post(f"{path}/activate", headers=auth).status_code == 200
    run(db, settings)
    assert [s.form()["Body"] for s in sms.seen] == ["Bob, a gift is waiting"]
    # a step someone is at cannot be removed
    kept = [s for s in steps if s["id"] != "wait1"]
    kept[0]["next"] = "opened?"
    with db.session() as session:
        session.execute(JourneyEntry.__table__.update().values(state="active", step="wait1"))
    answer = client.patch(path, json={"steps": kept}, headers=auth)
    assert answer.status_code == 422 and "steps.wait1" in answer.json["error"]["fields"]


def test_an_open_moves_a_member_waiting_for_it_at_once(client, auth, db, settings, smtp_server):  # type: ignore[no-untyped-def]
    import re

    recorder, _ = smtp_server
    body = {
        "name": "Read it?",
        "entry": {"event": "customer.created"},
        "steps": [
            _message("hello", "Hello", "read?"),
            {
                "id": "read?",
                "type": "wait_for",
                "event": "email.opened",
                "timeout_minutes": 1440,
                "then": "more",
                "else": "exit",
            },
            _message("more", "More for readers"),
        ],
    }
    _activate(client, auth, body)
    sign_up(client, "ann")
    run(db, settings)
    message = email.message_from_bytes(recorder.messages[0].data)
    html = next(p for p in message.walk() if p.get_content_type() == "text/html")
    html = html.get_payload(decode=True).decode()
    pixel = re.search(r"http://herald\.test(/t/o/[^\"]+\.gif)", html)
    assert pixel is not None
    # a privacy proxy's prefetch is a machine open: it moves no one
    client.get(pixel.group(1), headers={"User-Agent": "Mozilla/5.0"})
    run(db, settings)
    assert len(recorder.messages) == 1
    client.get(pixel.group(1), headers={"User-Agent": "Thunderbird/115"})
    run(db, settings)
    subjects = [email.message_from_bytes(m.data)["Subject"] for m in recorder.messages]
    assert subjects == ["Hello", "More for readers"]


def test_an_sms_step_in_quiet_hours_is_deferred_not_skipped(  # type: ignore[no-untyped-def]
    client, auth, db, settings, sms, tmp_path, database_url
):
    from datetime import UTC, datetime

    from herald.campaigns.models import Delivery
    from tests.journeys.conftest import SID
    from tests.journeys.test_engine import _at

    quiet = make_settings(
        tmp_path,
        database_url,
        sms_api_url=sms.url,
        sms_account_sid=SID,
        sms_auth_token="secret-token",
        sms_from="+15005550006",
        sms_quiet_hours="21:00-09:00",
    )
    body = {
        "name": "Text welcome",
        "entry": {"event": "customer.created"},
        "steps": [
            {
                "id": "text",
                "type": "message",
                "channel": "sms",
                "variants": [{"name": "A", "body": "Welcome!"}],
                "next": "exit",
            }
        ],
    }
    _activate(client, auth, body)
    sign_up(
        client,
        "lin",
        phone="+8613800000002",
        timezone="Asia/Shanghai",
        consent={"sms": True},
    )
    _at(datetime(2027, 1, 5, 15, 0, tzinfo=UTC))  # 23:00 in Shanghai
    run(db, quiet)
    assert sms.seen == []
    with db.session() as session:
        row = session.scalars(select(Delivery)).one()
        assert row.status == "pending" and row.not_before is not None
        assert row.not_before.astimezone(UTC) == datetime(2027, 1, 6, 1, 0, tzinfo=UTC)
    _at(datetime(2027, 1, 6, 1, 1, tzinfo=UTC))  # 09:01 in Shanghai
    run(db, quiet)
    assert [s.form()["Body"] for s in sms.seen] == ["Welcome!"]


def test_a_goal_reached_cancels_the_members_queued_message(  # type: ignore[no-untyped-def]
    client, auth, db, settings, smtp_server
):
    from herald.campaigns.models import Delivery
    from herald.journeys import engine
    from tests.helpers import drain
    from tests.journeys.support import cart

    recorder, _ = smtp_server
    body = {
        "name": "Cart now",
        "entry": {"event": "cart.abandoned"},
        "exit_on": ["order.placed"],
        "steps": [_message("remind", "Your cart")],
    }
    _activate(client, auth, body)
    sign_up(client, "ann")
    cart(client, "ann")
    engine.tick(db, settings)  # the reminder is in the ledger, not yet sent
    order(client, "ann")
    drain(db, settings)
    assert recorder.messages == []
    with db.session() as session:
        row = session.scalars(select(Delivery)).one()
        assert row.status == "cancelled" and "order.placed" in (row.reason or "")
