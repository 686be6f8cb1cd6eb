"""Contacts: upsert (one or many), read, update, erase, export."""

from __future__ import annotations

from typing import Any

from herald.audiences import bulk, contacts, privacy
from herald.audiences.models import Contact
from herald.core.errors import NotFound, ValidationError
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
    also={200: "an existing contact (same external_id, else email) was updated"},
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
    contacts.check_email_free(session, contact, values)
    contacts.check_external_id_free(session, contact, values)
    contacts.apply(session, contact, values, source="api")
    if not (contact.external_id or contact.email or contact.phone):
        session.rollback()
        message = "a contact needs at least one of external_id, email or phone"
        raise ValidationError(message, {"external_id": message})
    session.commit()
    return contacts.to_dict(contact)


BULK_LIMIT = 10_000
BULK_RESULT = {
    "type": "object",
    "properties": {
        "created": {"type": "integer"},
        "updated": {"type": "integer"},
        "unchanged": {"type": "integer"},
        "rejected": {
            "type": "array",
            "items": {
                "type": "object",
                "properties": {
                    "index": {"type": "integer"},
                    "error": {
                        "type": "object",
                        "properties": {"field": {"type": "string"}, "message": {"type": "string"}},
                    },
                },
            },
        },
    },
}


@operation(
    "POST",
    "/contacts/bulk",
    f"Create or update up to {BULK_LIMIT:,} contacts; bad items are listed, the rest stored",
    request_schema={
        "type": "object",
        "required": ["contacts"],
        "properties": {"contacts": {"type": "array", "maxItems": BULK_LIMIT, "items": CONTACT_IN}},
    },
    response_schema=BULK_RESULT,
    write=True,
)
def bulk_contacts() -> Any:
    body = json_body(refuse_nul=False)  # each item is checked and listed
    items = body.get("contacts") if isinstance(body, dict) else None
    if not isinstance(items, list):
        raise ValidationError("contacts: must be a list", {"contacts": "must be a list"})
    if len(items) > BULK_LIMIT:
        raise ValidationError(
            f"contacts: at most {BULK_LIMIT:,} per request", {"contacts": "too many"}
        )
    session = deps.session()
    result = bulk.upsert_many(
        session, items, source="api", region=deps.settings().default_phone_region
    )
    session.commit()
    return result.to_dict()


@operation(
    "DELETE",
    "/contacts/{id}",
    "Erase a contact: personal data is blanked, anonymous counts are kept; GET is 404 after",
    status=204,
    write=True,
    parameters=ID,
)
def erase_contact(id: int) -> Any:
    session = deps.session()
    privacy.erase(session, _live(id))
    session.commit()
    return "", 204


@operation(
    "GET",
    "/contacts/{id}/export",
    "Everything held about one contact: fields, consents, events, lists, suppressions",
    response_schema={"type": "object"},
    parameters=ID,
)
def export_contact(id: int) -> Any:
    return privacy.export(deps.session(), _live(id))
