"""Editing a member in the admin goes through the same checks as the API and imports."""

from __future__ import annotations

from sqlalchemy import select

from herald.audiences.models import Contact
from tests.web.test_admin import add_contacts, csrf_token, login, users  # noqa: F401


def _edit(client, contact_id: int, **fields: str):  # type: ignore[no-untyped-def]
    url = f"/admin/contacts/edit/?id={contact_id}"
    data = {"csrf_token": csrf_token(client, url), "tier": "gold", "points": "1", **fields}
    return client.post(url, data=data)


def test_a_bad_zone_or_email_is_refused_with_its_reason(client, db, users):  # noqa: F811
    add_contacts(db, 1)
    with db.session() as session:
        contact_id = session.scalars(select(Contact.id)).one()
    login(client, users["marketer"])
    answer = _edit(client, contact_id, email="member0@example.com", timezone="Mars/Olympus")
    assert answer.status_code == 200 and "is not an IANA time zone" in answer.text
    answer = _edit(client, contact_id, email="not an email")
    assert answer.status_code == 200 and "email:" in answer.text
    answer = _edit(
        client,
        contact_id,
        email="Member0@Example.COM",
        phone="138 0013 8000",
        timezone="Asia/Shanghai",
    )
    assert answer.status_code == 302
    with db.session() as session:
        contact = session.get(Contact, contact_id)
        assert (contact.email, contact.phone, contact.timezone) == (
            "member0@example.com",
            "+8613800138000",
            "Asia/Shanghai",
        )
