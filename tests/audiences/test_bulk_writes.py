"""The chunk writes of bulk upsert and CSV import: new members and their consent rows in one
write per chunk (COPY on PostgreSQL), and a chunk the database refuses redone item by item."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from herald.audiences import bulk
from herald.audiences.models import Consent, Contact
from herald.core import codes
from herald.core.db import Database


def _new(n: int) -> list[dict[str, Any]]:
    return [
        {
            "external_id": f"w{i}",
            "email": f"w{i}@example.com",
            "first_name": f"Name {i}",
            "tier": "gold",
            "points": i,
            "birthday": "1990-05-17",
            "attributes": {"city": "Hangzhou", "vip": i % 2 == 0},
            "consent": {"email": i % 3 != 0, "sms": False},
        }
        for i in range(n)
    ]


def test_new_members_and_their_consents_are_written_whole(db: Database) -> None:
    with db.session() as session:
        result = bulk.upsert_many(session, _new(300), source="import")
    assert (result.created, result.rejected) == (300, [])
    with db.session() as session:
        members = {c.external_id: c for c in session.scalars(select(Contact))}
        consents = {(c.contact_id, c.channel): c for c in session.scalars(select(Consent))}
    assert len(members) == 300 and len(consents) == 600
    seven = members["w7"]
    assert (seven.email, seven.first_name, seven.tier, seven.points) == (
        "w7@example.com",
        "Name 7",
        "gold",
        7,
    )
    assert seven.birthday is not None and seven.birthday.isoformat() == "1990-05-17"
    assert seven.attributes == {"city": "Hangzhou", "vip": False}
    assert codes.normalise_referral(seven.referral_code) == seven.referral_code
    assert len({m.referral_code for m in members.values()}) == 300
    assert consents[(seven.id, "email")].granted is True
    assert consents[(members["w9"].id, "email")].granted is False
    assert consents[(seven.id, "email")].source == "import"
    # ids came from the table's own sequence: the next member made one by one follows on
    with db.session() as session:
        later = Contact(external_id="later", attributes={})
        session.add(later)
        session.flush()
        assert later.id > max(m.id for m in members.values())


@pytest.mark.parametrize("clash", ["external_id", "email"])
def test_a_chunk_that_clashes_with_a_concurrent_writer_is_redone_item_by_item(
    db: Database, monkeypatch: pytest.MonkeyPatch, clash: str
) -> None:
    # another writer stored w5 after this chunk looked its members up: the chunk's one write
    # fails on the unique key, and the chunk is redone so that w5 is updated, not lost
    with db.session() as session:
        session.add(
            Contact(
                external_id="w5" if clash == "external_id" else "other",
                email="w5@example.com",
                tier="new",
                attributes={},
            )
        )
    real = bulk._preload
    monkeypatch.setattr(bulk, "_preload", lambda session, cleaned: ({}, {}, real(session, [])[2]))
    items = _new(10)
    with db.session() as session:
        result = bulk.upsert_many(session, items, source="import")
    with db.session() as session:
        members = {c.email: c for c in session.scalars(select(Contact))}
    assert len(members) == 10
    # matched by external_id, else by email, as when the chunk had seen it
    assert (result.created, result.updated, result.rejected) == (9, 1, [])
    assert members["w5@example.com"].tier == "gold"
