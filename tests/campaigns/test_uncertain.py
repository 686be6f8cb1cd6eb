"""Deliveries whose hand-off outcome is unknown after a worker died: flagged uncertain, counted,
never silently resent by channels where a duplicate costs; a person can hand them off again."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select, update

from herald.campaigns import dispatch
from herald.campaigns.models import Batch, Delivery
from herald.channels.email import EmailChannel
from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members


def _crash_mid_batch(db, settings, campaign_id):  # type: ignore[no-untyped-def]
    """What a SIGKILL leaves behind: a running batch with rows claimed ``sending``."""
    with db.session() as session:
        batch_ids = dispatch.start_due_runs(session, settings)
    with db.session() as session:
        assert dispatch.claim_batch(session, batch_ids[0], clock.now(), settings.batch_lease)
        batch = session.get(Batch, batch_ids[0])
        session.execute(
            update(Delivery)
            .where(Delivery.run_id == batch.run_id, Delivery.batch_seq == batch.seq)
            .values(status="sending", attempts=1)
        )
    clock.shift(settings.batch_lease + timedelta(seconds=1))


def test_a_channel_that_must_not_duplicate_keeps_them_uncertain_until_a_person_says(
    client, auth, db, tmp_path, database_url, smtp_server, monkeypatch
):
    monkeypatch.setattr(EmailChannel, "resend_uncertain", False)
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="4")
    seed_members(db, 10)
    campaign = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json
    base = f"/api/v1/campaigns/{campaign['id']}"
    client.post(f"{base}/send-now", headers=auth)
    _crash_mid_batch(db, settings, campaign["id"])
    drain(db, settings)

    assert len(recorder.messages) == 6
    stats = client.get(f"{base}/stats", headers=auth).json
    assert stats["total"]["uncertain"] == 4 and stats["total"]["sent"] == 6
    assert stats["status"] == "sent"
    with db.session() as session:
        reasons = set(
            session.scalars(select(Delivery.reason).where(Delivery.status == "uncertain"))
        )
    assert reasons == {
        "worker stopped mid-send; outcome unknown, not resent (resend from the admin)"
    }

    answer = client.post(f"{base}/resend-uncertain", headers=auth)
    assert answer.status_code == 200 and answer.json["status"] == "sending"
    drain(db, settings)
    stats = client.get(f"{base}/stats", headers=auth).json
    assert stats["total"]["sent"] == 10 and stats["total"]["uncertain"] == 4
    assert stats["status"] == "sent" and len(recorder.messages) == 10
    assert client.post(f"{base}/resend-uncertain", headers=auth).status_code == 409


def test_email_hands_them_off_again_with_the_same_message_id(
    client, auth, db, tmp_path, database_url, smtp_server
):
    import email

    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="4")
    seed_members(db, 10)
    campaign = client.post("/api/v1/campaigns", json=email_campaign(), headers=auth).json
    client.post(f"/api/v1/campaigns/{campaign['id']}/send-now", headers=auth)
    _crash_mid_batch(db, settings, campaign["id"])
    drain(db, settings)
    assert len(recorder.messages) == 10
    with db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.provider_id, Delivery.uncertain, Delivery.status)
        ).all()
    assert {r.status for r in rows} == {"sent"} and sum(r.uncertain for r in rows) == 4
    ids = {email.message_from_bytes(m.data)["Message-ID"] for m in recorder.messages}
    assert ids == {r.provider_id for r in rows}
