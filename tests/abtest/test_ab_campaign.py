"""An A/B campaign end to end: a test group split evenly, the remainder held until the window
closes, then sent the winner (or the fallback)."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta

from sqlalchemy import select

from herald.audiences.models import Event
from herald.campaigns.models import Delivery, Variant
from herald.core import clock
from tests.conftest import make_settings
from tests.helpers import drain, email_campaign
from tests.workers.support import seed_members


def _ab_campaign(**ab):  # type: ignore[no-untyped-def]
    body = email_campaign()
    body["variants"] = [
        {"name": "A", "subject": "Plain {{ contact.first_name }}", "html": "<p>A</p>"},
        {"name": "B", "subject": "Bold {{ contact.first_name }}", "html": "<p>B</p>"},
    ]
    body["ab_test"] = {
        "test_fraction": 0.4,
        "metric": "click_rate",
        "decide_after_hours": 0.5,
        "confidence": 0.95,
        "fallback": "A",
        **ab,
    }
    return body


def _subjects(recorder) -> Counter[str]:  # type: ignore[no-untyped-def]
    import email

    return Counter(
        email.message_from_bytes(m.data)["Subject"].split()[0] for m in recorder.messages
    )


def _click(db, variant_name: str, share: float) -> None:  # type: ignore[no-untyped-def]
    """Human clicks from ``share`` of the recipients who got ``variant_name``."""
    with db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.contact_id, Delivery.run_id)
            .join(Variant, Variant.id == Delivery.variant_id)
            .where(Variant.name == variant_name, Delivery.status == "sent")
            .order_by(Delivery.id)
        ).all()
        for delivery_id, contact_id, run_id in rows[: int(len(rows) * share)]:
            session.add(
                Event(
                    type="email.clicked",
                    contact_id=contact_id,
                    delivery_id=delivery_id,
                    run_id=run_id,
                    data={"url": "https://shop.example.com"},
                )
            )


def test_the_winner_goes_to_the_rest_when_significant(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), batch_size="40")
    seed_members(db, 501)
    created = client.post("/api/v1/campaigns", json=_ab_campaign(), headers=auth)
    assert created.status_code == 201, created.json
    base = f"/api/v1/campaigns/{created.json['id']}"
    client.post(f"{base}/send-now", headers=auth)
    drain(db, settings)

    assert _subjects(recorder) == {"Plain": 100, "Bold": 100}  # floor(0.4 × 501) = 200, even
    assert client.get(base, headers=auth).json["status"] == "testing"
    stats = client.get(f"{base}/stats", headers=auth).json
    assert stats["winner"] is None and stats["total"]["recipients"] == 501

    _click(db, "B", 0.30)
    _click(db, "A", 0.05)
    clock.shift(timedelta(minutes=29))
    drain(db, settings)
    assert len(recorder.messages) == 200  # the window has not closed yet
    clock.shift(timedelta(minutes=2))
    drain(db, settings)

    assert _subjects(recorder) == {"Plain": 100, "Bold": 401}
    assert set(recorder.by_recipient().values()) == {1}
    stats = client.get(f"{base}/stats", headers=auth).json
    assert stats["winner"] == "B"
    assert stats["decision"]["reason"] == "significant"
    assert stats["decision"]["p_values"]["A"] < 0.05
    assert stats["variants"]["B"]["sent"] == 401 and stats["variants"]["A"]["sent"] == 100
    assert stats["variants"]["B"]["unique_clicks"] == 30
    assert client.get(base, headers=auth).json["status"] == "sent"


def test_the_fallback_goes_out_when_nothing_is_significant(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), ab_min_sample="20")
    seed_members(db, 100)
    created = client.post("/api/v1/campaigns", json=_ab_campaign(fallback="B"), headers=auth).json
    base = f"/api/v1/campaigns/{created['id']}"
    client.post(f"{base}/send-now", headers=auth)
    drain(db, settings)
    _click(db, "A", 0.1)
    _click(db, "B", 0.1)
    clock.shift(timedelta(hours=1))
    drain(db, settings)
    stats = client.get(f"{base}/stats", headers=auth).json
    assert stats["winner"] == "B" and stats["decision"]["reason"] == "fallback"
    assert _subjects(recorder) == {"Plain": 20, "Bold": 80}
    assert stats["total"]["recipients"] == 100 and stats["total"]["sent"] == 100
    assert stats["decision"]["min_sample"] == 20
    assert stats["decision"]["sentence"].startswith("No clear winner at 95%: ")
    assert stats["decision"]["sentence"].endswith("B, the fallback, went to the remaining 60.")


def test_too_few_deliveries_send_the_fallback_and_say_what_is_needed(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))  # minimum 100
    seed_members(db, 100)
    created = client.post("/api/v1/campaigns", json=_ab_campaign(), headers=auth).json
    base = f"/api/v1/campaigns/{created['id']}"
    client.post(f"{base}/send-now", headers=auth)
    drain(db, settings)
    _click(db, "B", 0.3)  # 6 of 20 against none of 20: looks decisive, is not
    clock.shift(timedelta(hours=1))
    drain(db, settings)
    stats = client.get(f"{base}/stats", headers=auth).json
    decision = stats["decision"]
    assert stats["winner"] == "A" and decision["reason"] == "too_few"
    assert decision["min_sample"] == 100 and decision["leader"] == "B"
    assert _subjects(recorder) == {"Plain": 80, "Bold": 20}
    assert decision["sentence"] == (
        f"Too few deliveries to decide (needs {decision['needed_per_variant']:,} per variant for "
        "a 1-point lift); A, the fallback, went to the remaining 60."
    )
    low, high = stats["variants"]["B"]["ci"]["click_rate"]
    assert low < 0.3 < high


def test_a_sample_ratio_mismatch_in_delivered_counts_blocks_the_winner(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port), ab_min_sample="10")
    seed_members(db, 500)
    created = client.post("/api/v1/campaigns", json=_ab_campaign(), headers=auth).json
    base = f"/api/v1/campaigns/{created['id']}"
    client.post(f"{base}/send-now", headers=auth)
    drain(db, settings)
    _click(db, "B", 0.3)
    # half of B's test group bounces: the delivered counts are off the planned even split
    with db.session() as session:
        rows = session.execute(
            select(Delivery.id, Delivery.contact_id, Delivery.run_id)
            .join(Variant, Variant.id == Delivery.variant_id)
            .where(Variant.name == "B")
            .order_by(Delivery.id.desc())
        ).all()
        for delivery_id, contact_id, run_id in rows[:50]:
            session.add(
                Event(
                    type="bounced",
                    contact_id=contact_id,
                    delivery_id=delivery_id,
                    run_id=run_id,
                    data={},
                )
            )
    clock.shift(timedelta(hours=1))
    drain(db, settings)
    stats = client.get(f"{base}/stats", headers=auth).json
    assert stats["winner"] is None and stats["decision"]["reason"] == "srm"
    assert stats["decision"]["srm_p"] < 0.001
    assert _subjects(recorder) == {"Plain": 400, "Bold": 100}  # the fallback went out
    assert "off the planned split" in stats["decision"]["sentence"]


def test_a_pause_during_the_test_holds_the_remainder_and_resume_sends_it(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    seed_members(db, 50)
    created = client.post("/api/v1/campaigns", json=_ab_campaign(), headers=auth).json
    base = f"/api/v1/campaigns/{created['id']}"
    client.post(f"{base}/send-now", headers=auth)
    drain(db, settings)
    assert len(recorder.messages) == 20
    assert client.post(f"{base}/pause", headers=auth).json["status"] == "paused"
    clock.shift(timedelta(hours=1))
    drain(db, settings)  # the decision is taken, but nothing more goes out while paused
    assert len(recorder.messages) == 20
    assert client.get(base, headers=auth).json["status"] == "paused"
    assert client.get(f"{base}/stats", headers=auth).json["winner"] == "A"
    assert client.post(f"{base}/resume", headers=auth).json["status"] == "sending"
    drain(db, settings)
    assert len(recorder.messages) == 50
    assert client.get(base, headers=auth).json["status"] == "sent"


def test_a_whole_audience_test_paused_until_it_ends_resumes_as_sent(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    seed_members(db, 10)
    created = client.post(
        "/api/v1/campaigns", json=_ab_campaign(test_fraction=1.0), headers=auth
    ).json
    base = f"/api/v1/campaigns/{created['id']}"
    client.post(f"{base}/send-now", headers=auth)
    drain(db, settings)
    client.post(f"{base}/pause", headers=auth)
    clock.shift(timedelta(hours=1))
    drain(db, settings)
    assert client.post(f"{base}/resume", headers=auth).json["status"] == "sent"
    assert len(recorder.messages) == 10


def test_cancel_during_the_test_cancels_the_held_remainder(
    client, auth, db, tmp_path, database_url, smtp_server
):
    recorder, port = smtp_server
    settings = make_settings(tmp_path, database_url, smtp_port=str(port))
    seed_members(db, 50)
    created = client.post("/api/v1/campaigns", json=_ab_campaign(), headers=auth).json
    base = f"/api/v1/campaigns/{created['id']}"
    client.post(f"{base}/send-now", headers=auth)
    drain(db, settings)
    assert client.post(f"{base}/cancel", headers=auth).json["status"] == "cancelled"
    drain(db, settings)
    clock.shift(timedelta(hours=1))
    drain(db, settings)
    assert len(recorder.messages) == 20
    with db.session() as session:
        statuses = Counter(session.scalars(select(Delivery.status)))
        from herald.campaigns.models import Run

        assert session.scalars(select(Run.status)).one() == "cancelled"
    assert statuses == {"sent": 20, "cancelled": 30}
