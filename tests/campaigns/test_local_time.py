"""``local_time`` schedules: every member gets the message at the same wall-clock time in their
own zone, each exactly once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select

from herald.audiences.models import Contact
from herald.campaigns import service
from herald.campaigns.models import Delivery
from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members

ZONES = {"Asia/Shanghai": 8, "Europe/Berlin": 1, "America/New_York": -5, None: 0}


def test_each_member_gets_it_at_ten_in_their_own_zone(db, tmp_path, database_url, smtp_server):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="3")
    seed_members(db, 12)
    with db.session() as session:
        for contact, zone in zip(
            session.scalars(select(Contact).order_by(Contact.id)), list(ZONES) * 3, strict=True
        ):
            contact.timezone = zone
    # a date in the future, in winter (no DST): 10:00 local is 02:00 UTC in Shanghai, 09:00 in
    # Berlin, 15:00 in New York and 10:00 UTC for members without a zone
    day = (clock.now() + timedelta(days=3)).date()
    with db.session() as session:
        campaign = service.create_campaign(
            session,
            email_campaign(
                schedule={"type": "local_time", "date": day.isoformat(), "time": "10:00"}
            ),
            settings.timezone,
        )
        service.arm(session, campaign, settings.timezone)
        due = campaign.next_run_at
    assert due == datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=4)

    received_at: dict[int, datetime] = {}
    start = datetime(day.year, day.month, day.day, tzinfo=UTC) - timedelta(hours=5)
    clock.shift(start - clock.now())
    for _ in range(24 * 4):  # walk the day in 15-minute steps
        clock.shift(timedelta(minutes=15))
        before = len(recorder.messages)
        drain(db, settings)
        for _ in range(len(recorder.messages) - before):
            received_at[len(received_at)] = clock.now()
    assert len(recorder.messages) == 12 and set(recorder.by_recipient().values()) == {1}

    with db.session() as session:
        rows = session.execute(
            select(Contact.timezone, Delivery.sent_at).join(
                Delivery, Delivery.contact_id == Contact.id
            )
        ).all()
    for zone, sent_at in rows:
        local_ten = datetime(day.year, day.month, day.day, 10, tzinfo=UTC) - timedelta(
            hours=ZONES[zone]
        )
        assert local_ten <= sent_at < local_ten + timedelta(minutes=15), (zone, sent_at)


def test_an_ab_test_is_accepted_with_local_time(client, auth):
    body = email_campaign(schedule={"type": "local_time", "date": "2099-12-12", "time": "10:00"})
    body["variants"].append({"name": "B", "subject": "B", "html": "<p>B</p>"})
    body["ab_test"] = {"test_fraction": 0.5}
    answer = client.post("/api/v1/campaigns", json=body, headers=auth)
    assert answer.status_code == 201 and answer.json["ab_test"]["test_fraction"] == 0.5
