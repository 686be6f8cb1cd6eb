"""Journeys entered by behaviour: a week before a member's points expire (once per expiry date,
at 10:00 in their zone, moving on to the next lot once one has passed), and the referrer's
``referral.converted`` when a referee signs up with their code; real SMTP out."""

from __future__ import annotations

import email
from datetime import UTC, datetime
from email.utils import parseaddr

from sqlalchemy import func, select

from herald.audiences import points
from herald.audiences.models import Contact, Event
from herald.core import clock
from herald.core.accounts import create_user
from herald.journeys.models import JourneyEntry
from tests.journeys.support import run, sign_up, webhook
from tests.web.test_admin import login


def _activate(client, auth, body):  # type: ignore[no-untyped-def]
    created = client.post("/api/v1/journeys", json=body, headers=auth)
    assert created.status_code == 201, created.json
    journey = created.json
    assert (
        client.post(f"/api/v1/journeys/{journey['id']}/activate", headers=auth).status_code == 200
    )
    return journey


def _at(moment: datetime) -> None:
    clock.reset()
    clock.shift(moment - datetime.now(UTC))


def _mail(message) -> tuple[str, str]:  # type: ignore[no-untyped-def]
    parsed = email.message_from_bytes(message.data)
    return parseaddr(parsed["To"])[1], str(parsed["Subject"])


def _journey(name: str, entry: dict, subject: str) -> dict:  # type: ignore[type-arg]
    return {
        "name": name,
        "entry": entry,
        "steps": [
            {
                "id": "note",
                "type": "message",
                "channel": "email",
                "variants": [{"name": "A", "subject": subject, "html": "<p>Hello</p>"}],
                "next": "exit",
            }
        ],
    }


def _points(client, external_id: str, n: int, lots: list[dict]) -> None:  # type: ignore[type-arg]
    body = {
        "type": "points.changed",
        "data": {"customer_external_id": external_id, "points": 1000, "expiring": lots},
    }
    webhook(client, body, f"p-{external_id}-{n}")


def test_members_are_warned_a_week_before_each_expiry_date(client, auth, db, settings, smtp_server):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    _at(datetime(2027, 2, 27, 12, 0, tzinfo=UTC))
    sign_up(client, "mei", timezone="Asia/Shanghai")
    sign_up(client, "sam", timezone="America/Los_Angeles")
    sign_up(client, "kim", timezone="Asia/Shanghai")  # no lots: never enters
    lots = [
        {"points": 500, "expires_at": "2027-03-08"},
        {"points": 300, "expires_at": "2027-03-08T23:59:59+08:00"},
        {"points": 200, "expires_at": "2027-04-01"},
    ]
    _points(client, "mei", 1, lots)
    _points(client, "sam", 1, [{"points": 90, "expires_at": "2027-03-08"}])
    subject = "{{ contact.points_expiring }} points expire on {{ contact.points_expire_at }}"
    entry = {"date_field": "points_expire_at", "offset_days": -7, "time": "10:00"}
    journey = _activate(client, auth, _journey("Points expiry", entry, subject))

    _at(datetime(2027, 3, 1, 1, 30, tzinfo=UTC))  # 09:30 in Shanghai
    run(db, settings)
    assert recorder.messages == []
    _at(datetime(2027, 3, 1, 2, 0, tzinfo=UTC))  # 10:00 in Shanghai
    run(db, settings)
    assert [_mail(m) for m in recorder.messages] == [
        ("mei@example.com", "800 points expire on 2027-03-08")
    ]
    _at(datetime(2027, 3, 1, 18, 0, tzinfo=UTC))  # 10:00 in Los Angeles
    run(db, settings)
    run(db, settings)
    assert sorted(_mail(m) for m in recorder.messages)[1] == (
        "sam@example.com",
        "90 points expire on 2027-03-08",
    )
    assert len(recorder.messages) == 2  # once per expiry date

    # mei redeems 400 points after the warning, before they expire: saved by the journey
    _at(datetime(2027, 3, 3, 9, 0, tzinfo=UTC))
    redeemed = {"customer_external_id": "mei", "points": 600, "previous": 1000}
    webhook(client, {"type": "points.changed", "data": redeemed}, "p-mei-redeem")
    saved = client.get(f"/api/v1/journeys/{journey['id']}/stats", headers=auth).json
    assert saved["points_saved"]["entrants"] == {
        "members": 2,
        "redeemed_members": 1,
        "points": 400,
    }
    with db.session() as session:
        create_user(session, "marketer@example.com", "a long password", "marketer")
    login(client, "marketer@example.com", "a long password")
    page = client.get(f"/admin/journeys/{journey['id']}/")
    assert page.status_code == 200
    assert 'data-stat="points-saved">400<' in page.text

    # the 8 March lots pass: the 1 April lot becomes the nearest, and is warned about in turn
    _at(datetime(2027, 3, 9, 0, 30, tzinfo=UTC))
    with db.session() as session:
        assert points.roll_over(session) == 2
        session.commit()
        mei = session.scalar(select(Contact).where(Contact.external_id == "mei"))
        sam = session.scalar(select(Contact).where(Contact.external_id == "sam"))
        assert (mei.points_expiring, mei.points_expire_at.isoformat()) == (200, "2027-04-01")
        assert (sam.points_expiring, sam.points_expire_at) == (None, None)
    _at(datetime(2027, 3, 25, 2, 0, tzinfo=UTC))
    run(db, settings)
    assert _mail(recorder.messages[-1]) == ("mei@example.com", "200 points expire on 2027-04-01")
    assert len(recorder.messages) == 3
    with db.session() as session:
        occasions = sorted(session.scalars(select(JourneyEntry.occasion)))
    assert occasions == [
        "points_expire_at:2027-03-08",
        "points_expire_at:2027-03-08",
        "points_expire_at:2027-04-01",
    ]


def test_a_referees_sign_up_enters_the_referrer_into_a_journey(
    client, auth, db, settings, smtp_server
):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    sign_up(client, "ann")
    with db.session() as session:
        ann = session.scalar(select(Contact).where(Contact.external_id == "ann"))
        ann_id, code = ann.id, ann.referral_code
    assert client.get(f"/api/v1/contacts/{ann_id}", headers=auth).json["referral_code"] == code
    subject = "{{ contact.first_name }}, your friend joined"
    _activate(client, auth, _journey("Referral thanks", {"event": "referral.converted"}, subject))

    typed = code.lower().replace("-", " ")  # as a member might type it
    sign_up(client, "bob", referred_by=typed)
    sign_up(client, "cy", referred_by="22222-22222")  # unknown: accepted, nothing stored
    sign_up(client, "dee", referred_by="not a code")  # not even a code's shape: the same
    own = {"external_id": "ann", "email": "ann@example.com", "referred_by": code}
    body = {"type": "customer.created", "data": {"customer": own}}
    webhook(client, body, "c-ann-again")  # her own code: accepted, nothing stored
    run(db, settings)
    assert [_mail(m) for m in recorder.messages] == [("ann@example.com", "Ann, your friend joined")]
    with db.session() as session:
        converted = session.scalars(select(Event).where(Event.type == "referral.converted")).all()
        assert [(e.contact_id, e.data["referee_external_id"]) for e in converted] == [
            (ann_id, "bob")
        ]
        referred = dict(session.execute(select(Contact.external_id, Contact.referred_by_id)).all())
        assert referred == {"ann": None, "bob": ann_id, "cy": None, "dee": None}
        codes = session.scalars(select(Contact.referral_code)).all()
        assert len(set(codes)) == 4 and all(c and len(c) == 11 for c in codes)
        assert session.scalar(select(func.count()).select_from(JourneyEntry)) == 1
        bob_id = session.scalar(select(Contact.id).where(Contact.external_id == "bob"))

    # erasing the referee strips their shop id from the referrer's event; their code goes too
    assert client.delete(f"/api/v1/contacts/{bob_id}", headers=auth).status_code in (200, 204)
    with db.session() as session:
        event = session.scalar(select(Event).where(Event.type == "referral.converted"))
        assert event.data == {"referee_id": bob_id, "code": code}
        assert session.get(Contact, bob_id).referral_code is None
