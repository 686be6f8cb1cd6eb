"""``smart`` schedules: each member at their best hour of the day in their own zone, else at the
fallback time, each exactly once; and A/B tests with per-member schedules (the test group first,
the rest at their own moment after the decision)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as hs
from sqlalchemy import select

from herald.audiences.models import Contact
from herald.campaigns import service, smart
from herald.campaigns.models import Batch, Campaign, Delivery, Variant
from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members

# (zone, best hour) of twelve members; None: no best hour (the fallback time, 10:00)
MEMBERS = [
    ("Asia/Shanghai", 8),
    ("Asia/Shanghai", 21),
    ("Asia/Shanghai", None),
    ("Europe/Berlin", 0),
    ("Europe/Berlin", 13),
    ("Europe/Berlin", None),
    ("America/New_York", 7),
    ("America/New_York", 23),
    ("America/New_York", None),
    (None, 18),  # no zone: the service zone (UTC in tests)
    ("Asia/Kolkata", 9),  # +05:30
    (None, None),
]
OFFSETS = {"Asia/Shanghai": 8, "Europe/Berlin": 1, "America/New_York": -5, None: 0}


def _expected(day: date, zone: str | None, hour: int | None) -> datetime:
    local = datetime.combine(day, datetime.min.time()).replace(hour=10 if hour is None else hour)
    if zone == "Asia/Kolkata":
        return local.replace(tzinfo=UTC) - timedelta(hours=5, minutes=30)
    return local.replace(tzinfo=UTC) - timedelta(hours=OFFSETS[zone])


def _seed(db, members) -> list[int]:  # type: ignore[no-untyped-def]
    seed_members(db, len(members))
    with db.session() as session:
        contacts = list(session.scalars(select(Contact).order_by(Contact.id)))
        for contact, (zone, hour) in zip(contacts, members, strict=True):
            contact.timezone, contact.best_hour = zone, hour
        return [c.id for c in contacts]


def _walk(db, settings, start: datetime, hours: int, step_minutes: int = 15):  # type: ignore[no-untyped-def]
    clock.shift(start - clock.now())
    for _ in range(hours * 60 // step_minutes):
        clock.shift(timedelta(minutes=step_minutes))
        drain(db, settings)


def test_each_member_gets_it_at_their_best_hour_else_the_fallback(
    db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="2")
    _seed(db, MEMBERS)
    day = (clock.now() + timedelta(days=3)).date()
    with db.session() as session:
        campaign = service.create_campaign(
            session,
            email_campaign(
                schedule={"type": "smart", "date": day.isoformat(), "fallback_time": "10:00"}
            ),
            settings.timezone,
        )
        service.arm(session, campaign, settings.timezone)
        assert campaign.next_run_at == datetime.combine(day, datetime.min.time(), UTC) - (
            timedelta(hours=14)
        )
        campaign_id = campaign.id

    midnight = datetime.combine(day, datetime.min.time(), UTC)
    _walk(db, settings, midnight - timedelta(hours=15), 2)
    with db.session() as session:
        # planned: every batch sleeps until its first member's moment, in moment order
        wakes = list(session.scalars(select(Batch.lease_until).order_by(Batch.seq)))
        assert len(wakes) == 6 and wakes == sorted(wakes) and all(w > clock.now() for w in wakes)
    _walk(db, settings, clock.now(), 44)
    assert len(recorder.messages) == len(MEMBERS)
    assert set(recorder.by_recipient().values()) == {1}
    with db.session() as session:
        rows = session.execute(
            select(Contact.timezone, Contact.best_hour, Delivery.sent_at).join(
                Delivery, Delivery.contact_id == Contact.id
            )
        ).all()
        assert session.get(Campaign, campaign_id).status == "sent"
    for zone, hour, sent_at in rows:
        due = _expected(day, zone, hour)
        assert due <= sent_at < due + timedelta(minutes=15), (zone, hour, sent_at)


@given(
    zone=hs.sampled_from(["Europe/Berlin", "America/New_York", "Australia/Lord_Howe", None]),
    hour=hs.one_of(hs.none(), hs.integers(0, 23)),
    day=hs.dates(date(2026, 1, 1), date(2028, 12, 31)),
)
def test_a_members_moment_is_that_hour_on_their_wall_clock(zone, hour, day):
    schedule = {"type": "smart", "date": day.isoformat(), "fallback_time": "09:30"}
    due = smart.member_due(schedule, zone, hour, ZoneInfo("UTC"))
    local = due.astimezone(ZoneInfo(zone or "UTC"))
    wanted = (9, 30) if hour is None else (hour, 0)
    assert local.date() == day
    if (local.hour, local.minute) != wanted:
        # only when the clocks skip that wall time: then the next valid minute
        wall = datetime.combine(day, datetime.min.time()).replace(hour=wanted[0], minute=wanted[1])
        aware = wall.replace(tzinfo=local.tzinfo)
        assert aware.astimezone(UTC).astimezone(local.tzinfo).replace(tzinfo=None) != wall
        assert (local.hour, local.minute) > wanted and local - timedelta(hours=1) < aware


def _smart(day: str, fallback: str | None = "10:00", **extra: str) -> dict[str, str]:
    out = {"type": "smart", "date": day, **extra}
    return out if fallback is None else {**out, "fallback_time": fallback}


@pytest.mark.parametrize(
    ("schedule", "field", "words"),
    [
        (
            {"type": "smart", "date": "11/11/2026", "fallback_time": "10:00"},
            "schedule.date",
            "date",
        ),
        (
            {"type": "smart", "date": "2099-11-11", "fallback_time": "25:00"},
            "schedule.fallback_time",
            "wall-clock",
        ),
        ({"type": "smart", "date": "2099-11-11"}, "schedule.fallback_time", "wall-clock"),
        (
            {"type": "smart", "date": "2020-11-11", "fallback_time": "10:00"},
            "schedule.date",
            "later day",
        ),
        ({"type": "smart", "date": "2099-11-11", "time": "10:00"}, "schedule.time", "not a field"),
    ],
)
def test_a_bad_smart_schedule_is_a_422_in_plain_words(client, auth, schedule, field, words):
    answer = client.post("/api/v1/campaigns", json=email_campaign(schedule=schedule), headers=auth)
    assert answer.status_code == 422, answer.json
    assert words in answer.json["error"]["fields"][field]
    listed = client.get("/api/v1/campaigns", headers=auth).json["items"]
    assert listed == []  # nothing half-written


def test_a_smart_campaign_round_trips_through_the_api(client, auth):
    schedule = {"type": "smart", "date": "2099-11-11", "fallback_time": "10:00"}
    created = client.post("/api/v1/campaigns", json=email_campaign(schedule=schedule), headers=auth)
    assert created.status_code == 201 and created.json["schedule"] == schedule
    armed = client.post(f"/api/v1/campaigns/{created.json['id']}/schedule", headers=auth)
    assert armed.status_code == 200 and armed.json["status"] == "scheduled"
    # on the calendar on its day, at the fallback time in the shop's zone
    listed = client.get("/api/v1/calendar?from=2099-11-10&to=2099-11-12", headers=auth).json
    assert [(i["id"], i["at"][:16]) for i in listed["items"]] == [
        (created.json["id"], "2099-11-11T10:00")
    ]


def test_get_contact_shows_the_best_hour(client, auth, db):
    made = client.post("/api/v1/contacts", json={"email": "a@example.com"}, headers=auth).json
    assert made["best_hour"] is None
    with db.session() as session:
        session.get(Contact, made["id"]).best_hour = 20
    assert client.get(f"/api/v1/contacts/{made['id']}", headers=auth).json["best_hour"] == 20


@pytest.mark.parametrize("kind", ["local_time", "smart"])
def test_with_an_ab_test_the_test_group_goes_first_and_the_rest_at_their_own_time(
    db, tmp_path, database_url, smtp_server, kind
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="3")
    members = MEMBERS * 2
    _seed(db, members)
    day = (clock.now() + timedelta(days=3)).date()
    schedule = (
        {"type": "smart", "date": day.isoformat(), "fallback_time": "10:00"}
        if kind == "smart"
        else {"type": "local_time", "date": day.isoformat(), "time": "10:00"}
    )
    body = email_campaign(schedule=schedule)
    body["variants"].append({"name": "B", "subject": "B", "html": "<p>B</p>"})
    body["ab_test"] = {"test_fraction": 0.5, "decide_after_hours": 2, "fallback": "B"}
    with db.session() as session:
        campaign = service.create_campaign(session, body, settings.timezone)
        service.arm(session, campaign, settings.timezone)
        start, campaign_id = campaign.next_run_at, campaign.id

    clock.shift(start - clock.now() + timedelta(seconds=1))
    drain(db, settings)
    assert len(recorder.messages) == 12  # the test group, at once, half each
    with db.session() as session:
        sent_variants = session.scalars(
            select(Variant.name).join(Delivery, Delivery.variant_id == Variant.id)
        ).all()
        assert sorted(sent_variants) == ["A"] * 6 + ["B"] * 6
        assert session.get(Campaign, campaign_id).status == "testing"

    _walk(db, settings, start, 60)
    assert len(recorder.messages) == 24 and set(recorder.by_recipient().values()) == {1}
    with db.session() as session:
        campaign = session.get(Campaign, campaign_id)
        decided_at = datetime.fromisoformat(campaign.ab_test["decision"]["decided_at"])
        assert campaign.status == "sent" and campaign.ab_test["decision"]["send"] == "B"
        assert start + timedelta(hours=2) <= decided_at < start + timedelta(hours=2, minutes=16)
        rest = session.execute(
            select(Contact.timezone, Contact.best_hour, Delivery.sent_at, Variant.name)
            .join(Delivery, Delivery.contact_id == Contact.id)
            .join(Variant, Variant.id == Delivery.variant_id)
            .where(Delivery.sent_at > start + timedelta(minutes=30))
        ).all()
    assert len(rest) == 12 and {name for *_, name in rest} == {"B"}
    for zone, hour, sent_at, _ in rest:
        due = _expected(day, zone, hour if kind == "smart" else None)
        # its own moment, or at the decision when that moment came before it
        moment = max(due, decided_at)
        assert moment <= sent_at < moment + timedelta(minutes=16), (zone, hour, sent_at)
