"""Segment entry takes members who join the segment after the journey starts watching it, not
everyone already in it; leaving and joining again is a new joining (re_entry decides)."""

from __future__ import annotations

import email
from email.utils import parseaddr

from sqlalchemy import select, update

from herald.audiences.models import Contact, Segment
from tests.journeys.support import run, sign_up
from tests.journeys.test_engine import _activate, _stats


def _tier(db, external_id: str, tier: str) -> None:  # type: ignore[no-untyped-def]
    with db.session() as session:
        session.execute(update(Contact).where(Contact.external_id == external_id).values(tier=tier))
        session.commit()


def _received(recorder) -> list[str]:  # type: ignore[no-untyped-def]
    return [parseaddr(email.message_from_bytes(m.data)["To"])[1] for m in recorder.messages]


def test_only_members_who_join_after_activation_enter(client, auth, db, settings, smtp_server):  # type: ignore[no-untyped-def]
    recorder, _ = smtp_server
    for name in ("ann", "bob", "dan"):
        sign_up(client, name)
    _tier(db, "ann", "gold")
    _tier(db, "bob", "gold")
    with db.session() as session:
        segment = Segment(name="Gold", rules={"field": "tier", "op": "eq", "value": "gold"})
        session.add(segment)
        session.commit()
        segment_id = segment.id
    journey = _activate(
        client,
        auth,
        {
            "name": "Welcome to gold",
            "entry": {"segment_id": segment_id},
            "re_entry": "after_exit",
            "steps": [
                {
                    "id": "hello",
                    "type": "message",
                    "channel": "email",
                    "variants": [{"name": "A", "subject": "You are gold", "html": "<p>x</p>"}],
                    "next": "exit",
                }
            ],
        },
    )
    run(db, settings)
    run(db, settings)
    assert recorder.messages == []  # ann and bob were gold before: they do not enter
    assert _stats(client, auth, journey)["entered"] == 0

    _tier(db, "dan", "gold")  # dan joins
    run(db, settings)
    assert _received(recorder) == ["dan@example.com"]

    _tier(db, "ann", "silver")  # ann leaves ...
    run(db, settings)
    _tier(db, "ann", "gold")  # ... and joins again: a new joining
    run(db, settings)
    run(db, settings)
    assert sorted(_received(recorder)) == ["ann@example.com", "dan@example.com"]
    stats = _stats(client, auth, journey)
    assert stats["entered"] == 2 and stats["completed"] == 2


def test_a_paused_journey_lets_in_on_resume_who_joined_meanwhile(  # type: ignore[no-untyped-def]
    client, auth, db, settings, smtp_server
):
    recorder, _ = smtp_server
    sign_up(client, "eve")
    with db.session() as session:
        segment = Segment(name="Gold", rules={"field": "tier", "op": "eq", "value": "gold"})
        session.add(segment)
        session.commit()
        segment_id = segment.id
    journey = _activate(
        client,
        auth,
        {
            "name": "Gold",
            "entry": {"segment_id": segment_id},
            "steps": [
                {
                    "id": "hello",
                    "type": "message",
                    "channel": "email",
                    "variants": [{"name": "A", "subject": "Gold", "html": "<p>x</p>"}],
                    "next": "exit",
                }
            ],
        },
    )
    run(db, settings)
    path = f"/api/v1/journeys/{journey['id']}"
    assert client.post(f"{path}/pause", headers=auth).status_code == 200
    _tier(db, "eve", "gold")
    run(db, settings)
    assert recorder.messages == []
    assert client.post(f"{path}/activate", headers=auth).status_code == 200
    run(db, settings)
    assert _received(recorder) == ["eve@example.com"]
    with db.session() as session:
        assert session.scalar(select(Contact.tier).where(Contact.external_id == "eve")) == "gold"
