"""Contacts: upsert, read, update."""

from __future__ import annotations

from typing import Any

from herald.audiences import contacts
from herald.audiences.models import Contact
from herald.core.errors import NotFound
from herald.web import deps
from herald.web.api import json_body, operation
from herald.web.api.schemas import CONTACT, CONTACT_IN

ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]


def _live(contact_id: int) -> Contact:
    contact = deps.session().get(Contact, contact_id)
    if contact is None or contact.erased_at is not None:
        raise NotFound(f"contact {contact_id} does not exist")
    return contact


@operation(
    "POST",
    "/contacts",
    "Create or update a contact (by external_id, else email)",
    request_schema=CONTACT_IN,
    response_schema=CONTACT,
    status=201,
    write=True,
)
def upsert_contact() -> Any:
    session = deps.session()
    contact, created = contacts.upsert(
        session, json_body(), source="api", region=deps.settings().default_phone_region
    )
    session.commit()
    return contacts.to_dict(contact), 201 if created else 200


@operation("GET", "/contacts/{id}", "Read a contact", response_schema=CONTACT, parameters=ID)
def get_contact(id: int) -> Any:
    return contacts.to_dict(_live(id))


@operation(
    "PATCH",
    "/contacts/{id}",
    "Change some fields of a contact",
    request_schema=CONTACT_IN,
    response_schema=CONTACT,
    write=True,
    parameters=ID,
)
def patch_contact(id: int) -> Any:
    session = deps.session()
    contact = _live(id)
    values = contacts.clean(json_body(), deps.settings().default_phone_region, partial=True)
    contacts.apply(session, contact, values, source="api")
    session.commit()
    return contacts.to_dict(contact)
