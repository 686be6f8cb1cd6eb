"""The foundation slice end to end, in-process: contacts over the API, a campaign, a send through
the ledger to a real SMTP server, and stats."""

from __future__ import annotations

import email
import email.policy

from sqlalchemy import func, select

from herald.campaigns import dispatch
from herald.campaigns.models import Batch, Delivery
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign


def _contacts(client, auth, n: int, consent: bool = True) -> None:
    for i in range(n):
        answer = client.post(
            "/api/v1/contacts",
            json={
                "external_id": f"m{i}",
                "email": f"member{i}@example.com",
                "first_name": f"Member{i}",
                "consent": {"email": consent},
            },
            headers=auth,
        )
        assert answer.status_code == 201, answer.json


def test_it_sends_one_email_per_consenting_contact_and_counts_them(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="7")
    _contacts(client, auth, 20)
    client.post(
        "/api/v1/contacts",
        json={"email": "no-consent@example.com", "consent": {"email": False}},
        headers=auth,
    )
    client.post("/api/v1/contacts", json={"external_id": "no-address"}, headers=auth)
    created = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth)
    assert created.status_code == 201, created.json
    campaign_id = created.json["id"]
    assert created.json["status"] == "draft"

    answer = client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    assert answer.status_code == 200 and answer.json["status"] == "scheduled"
    drain(db, settings)

    assert sorted(recorder.by_recipient()) == sorted(f"member{i}@example.com" for i in range(20))
    assert set(recorder.by_recipient().values()) == {1}
    message = email.message_from_bytes(recorder.messages[0].data, policy=email.policy.default)
    assert message["Subject"].startswith("Hi Member")
    assert message["Message-ID"]
    assert message["List-Unsubscribe"].startswith("<http://herald.test/u/")
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert message.get_body(("plain",)) is not None and message.get_body(("html",)) is not None

    stats = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth).json
    assert stats["total"]["recipients"] == 22
    assert stats["total"]["sent"] == 20
    assert stats["total"]["suppressed"] == 1
    assert stats["variants"]["A"]["sent"] == 20
    assert client.get(f"/api/v1/campaigns/{campaign_id}", headers=auth).json["status"] == "sent"

    with db.session() as session:
        reasons = dict(
            session.execute(
                select(Delivery.reason, func.count())
                .where(Delivery.status == "skipped")
                .group_by(Delivery.reason)
            ).all()
        )
    assert reasons == {"no consent": 1, "no email": 1}


def test_a_second_drain_sends_nothing_more(client, auth, db, tmp_path, database_url, smtp_server):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    _contacts(client, auth, 5)
    campaign_id = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    drain(db, settings)
    with db.session() as session:
        batch_ids = list(session.scalars(select(Batch.id)))
    for batch_id in batch_ids:
        assert not dispatch.send_batch(db, settings, batch_id).claimed
    assert len(recorder.messages) == 5


def test_an_address_refused_at_send_time_is_failed_not_bounced(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    recorder.refuse["member1@example.com"] = "550 5.1.1 no such mailbox"
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    _contacts(client, auth, 3)
    campaign_id = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    total = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth).json["total"]
    assert (total["sent"], total["failed"], total["bounced"], total["delivered"]) == (2, 1, 0, 2)
    with db.session() as session:
        reason = session.scalar(select(Delivery.reason).where(Delivery.status == "failed"))
    assert "550" in reason and "no such mailbox" in reason


def test_an_order_within_five_days_of_any_click_converts(
    client, auth, db, tmp_path, database_url, smtp_server
):
    from datetime import timedelta

    from herald.audiences.models import Event
    from herald.core import clock

    _, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    _contacts(client, auth, 2)
    campaign_id = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json["id"]
    client.post(f"/api/v1/campaigns/{campaign_id}/send-now", headers=auth)
    drain(db, settings)
    now = clock.now()
    with db.session() as session:
        first, second = session.execute(
            select(Delivery.id, Delivery.contact_id, Delivery.run_id).order_by(Delivery.id)
        ).all()

        def event(kind, row, days, **data):  # type: ignore[no-untyped-def]
            session.add(
                Event(
                    type=kind,
                    contact_id=row.contact_id,
                    delivery_id=row.id if kind != "order.placed" else None,
                    run_id=row.run_id if kind != "order.placed" else None,
                    occurred_at=now + timedelta(days=days),
                    data=data,
                )
            )

        event("email.clicked", first, 0, url="https://shop.example.com")
        event("email.clicked", first, 10, url="https://shop.example.com")
        event("order.placed", first, 11, total=120.5, order_id="a")  # 1 day after the 2nd click
        event("email.clicked", second, 0, url="https://shop.example.com")
        event("order.placed", second, 6, total=99, order_id="b")  # 6 days: too late
    total = client.get(f"/api/v1/campaigns/{campaign_id}/stats", headers=auth).json["total"]
    assert (total["conversions"], total["revenue"]) == (1, 120.5)
