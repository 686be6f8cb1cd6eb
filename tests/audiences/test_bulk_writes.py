"""The chunk writes of bulk upsert and CSV import: new members and their consent rows in one
write per chunk (COPY on PostgreSQL), and a chunk the database refuses redone item by item."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import select

from herald.audiences import bulk, contacts, suppression
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
    monkeypatch.setattr(bulk, "_preload", lambda session, cleaned: real(session, []))
    items = _new(10)
    with db.session() as session:
        result = bulk.upsert_many(session, items, source="import")
    with db.session() as session:
        members = {c.email: c for c in session.scalars(select(Contact))}
    assert len(members) == 10
    # matched by external_id, else by email, as when the chunk had seen it
    assert (result.created, result.updated, result.rejected) == (9, 1, [])
    assert members["w5@example.com"].tier == "gold"


def _state(session: Any) -> dict[str, tuple[Any, ...]]:
    consents: dict[int, dict[str, bool]] = {}
    for c in session.scalars(select(Consent)):
        consents.setdefault(c.contact_id, {})[c.channel] = c.granted
    return {
        c.external_id or c.email: (
            c.email,
            c.first_name,
            c.tier,
            c.points,
            c.attributes,
            sorted(consents.get(c.id, {}).items()),
        )
        for c in session.scalars(select(Contact))
    }


STORED = [(f"s{i}", 10 * i) for i in range(6)]


@settings(
    max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.fixed_dictionaries(
            {"external_id": st.sampled_from(["s0", "s1", "s2", "s3", "n1", "n2"])},
            optional={
                "email": st.sampled_from(["s1@example.com", "s4@example.com", "n@example.com"]),
                "first_name": st.sampled_from(["Old", "New"]),
                "points": st.sampled_from([0, 10, 20]),
                "attributes": st.sampled_from([{"city": "Hangzhou"}, {"city": "Xi'an"}, {}]),
                "consent": st.fixed_dictionaries(
                    {}, optional={"email": st.booleans(), "sms": st.booleans()}
                ),
            },
        ),
        max_size=12,
    )
)
def test_a_chunk_ends_as_the_items_applied_one_by_one_would(
    db: Database, items: list[dict[str, Any]]
) -> None:
    # the chunk path (a dry run over plain rows, ORM objects only for the members it changes,
    # new members in one write) against the one-by-one path it falls back to, from the same
    # stored members, one with a suppressed address
    outcomes = []
    for one_by_one in (False, True):
        session = db.sessions()
        try:
            for external_id, points in STORED:
                session.add(
                    Contact(
                        external_id=external_id,
                        email=f"{external_id}@example.com",
                        first_name="Old",
                        tier="silver",
                        points=points,
                        attributes={"city": "Hangzhou"},
                    )
                )
            session.flush()
            first = session.scalars(select(Contact).order_by(Contact.external_id)).first()
            contacts.set_consent(session, first, "email", True, "api")
            suppression.suppress(session, "email", "s2@example.com", "complaint")
            session.flush()
            if one_by_one:
                result = bulk.BulkResult()
                cleaned = [(i, contacts.clean(item)) for i, item in enumerate(items)]
                bulk._slow(session, cleaned, "import", result)
            else:
                result = bulk.upsert_many(session, items, source="import")
            session.flush()
            session.expire_all()
            counts = (result.created, result.updated, result.unchanged)
            rejected = [(r.index, r.field) for r in result.rejected]
            outcomes.append((counts, rejected, _state(session)))
        finally:
            session.rollback()
            session.close()
    assert outcomes[0] == outcomes[1]


def test_a_member_found_by_both_keys_in_different_lookups_is_one_member(db: Database) -> None:
    # more members than one look-up takes (SQLite looks up 500 ids and 500 emails at a time),
    # with ids and emails sorting differently: a member comes back from two look-ups
    items = [{"external_id": f"x{i:03}", "email": f"{599 - i:03}@example.com"} for i in range(600)]
    with db.session() as session:
        assert bulk.upsert_many(session, items, source="import").created == 600
    with db.session() as session:
        again = bulk.upsert_many(session, items, source="import")
    assert (again.created, again.updated, again.unchanged, again.rejected) == (0, 0, 600, [])
