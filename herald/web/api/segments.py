"""Segments (saved rules, live previews), static lists and the suppression list."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from herald.audiences import contacts, lists, segments, suppression
from herald.audiences.models import Segment
from herald.core.errors import Conflict, NotFound, ValidationError
from herald.web import deps
from herald.web.api import json_body, operation
from herald.web.api.schemas import CONTACT

ID = [{"name": "id", "in": "path", "required": True, "schema": {"type": "integer"}}]
RULES = {"type": "object", "description": "segment rules, contract section 7"}
SEGMENT_IN = {
    "type": "object",
    "required": ["name", "rules"],
    "properties": {"name": {"type": "string", "maxLength": 200}, "rules": RULES},
}
SEGMENT = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "rules": RULES,
        "count": {"type": "integer"},
    },
}
PREVIEW = {
    "type": "object",
    "properties": {"count": {"type": "integer"}, "sample": {"type": "array", "items": CONTACT}},
}
LIST = {
    "type": "object",
    "properties": {
        "id": {"type": "integer"},
        "name": {"type": "string"},
        "size": {"type": "integer"},
    },
}


def _segment(segment_id: int) -> Segment:
    found = deps.session().get(Segment, segment_id)
    if found is None:
        raise NotFound(f"segment {segment_id} does not exist")
    return found


def _to_dict(segment: Segment) -> dict[str, Any]:
    return {
        "id": segment.id,
        "name": segment.name,
        "rules": segment.rules,
        "count": segments.count(deps.session(), segment.rules, zone=deps.settings().timezone),
        "created_at": segment.created_at.isoformat(),
        "updated_at": segment.updated_at.isoformat(),
    }


def _name(body: Any) -> str:
    name = body.get("name") if isinstance(body, dict) else None
    if not isinstance(name, str) or not name.strip() or len(name) > 200:
        raise ValidationError("name: 1 to 200 characters", {"name": "1 to 200 characters"})
    if "\x00" in name:
        message = "must not contain NUL characters"
        raise ValidationError(f"name: {message}", {"name": message})
    return name.strip()


def _name_free(name: str, segment_id: int | None = None) -> None:
    query = select(Segment.id).where(Segment.name == name)
    if segment_id is not None:
        query = query.where(Segment.id != segment_id)
    if deps.session().scalar(query) is not None:
        raise Conflict(f"a segment named {name!r} exists", {"name": "already used"})


def _commit() -> None:
    """Commit; a name taken by a concurrent request in between is a 409."""
    session = deps.session()
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise Conflict("a segment with this name exists", {"name": "already used"}) from None


def _preview(rules: Any) -> dict[str, Any]:
    session = deps.session()
    zone = deps.settings().timezone
    return {
        "count": segments.count(session, rules, zone=zone),
        "sample": [contacts.to_dict(c) for c in segments.sample(session, rules, 10, zone=zone)],
    }


@operation(
    "POST",
    "/segments",
    "Save a segment",
    request_schema=SEGMENT_IN,
    response_schema=SEGMENT,
    status=201,
    write=True,
)
def create_segment() -> Any:
    body = json_body()
    name = _name(body)
    rules = segments.validate(body.get("rules"))
    session = deps.session()
    _name_free(name)
    segment = Segment(name=name, rules=rules)
    session.add(segment)
    session.flush()
    answer = _to_dict(segment)  # built before the commit: a failing count writes nothing
    _commit()
    return answer, 201


# GET /segments (the paged list) is in herald/web/api/lists.py


@operation("GET", "/segments/{id}", "Read a segment", response_schema=SEGMENT, parameters=ID)
def get_segment(id: int) -> Any:
    return _to_dict(_segment(id))


@operation(
    "PATCH",
    "/segments/{id}",
    "Rename a segment or change its rules",
    request_schema=SEGMENT_IN,
    response_schema=SEGMENT,
    write=True,
    parameters=ID,
)
def patch_segment(id: int) -> Any:
    body = json_body()
    segment = _segment(id)
    if not isinstance(body, dict):
        raise ValidationError("the body must be an object", {"": "must be an object"})
    if "name" in body:
        name = _name(body)
        _name_free(name, segment.id)
        segment.name = name
    if "rules" in body:
        segment.rules = segments.validate(body["rules"])
    deps.session().flush()
    answer = _to_dict(segment)
    _commit()
    return answer


@operation(
    "GET",
    "/segments/{id}/preview",
    "How many members a saved segment has now, and ten of them",
    response_schema=PREVIEW,
    parameters=ID,
)
def preview_segment(id: int) -> Any:
    return _preview(_segment(id).rules)


@operation(
    "POST",
    "/segments/preview",
    "Live count and ten sample members for unsaved rules",
    request_schema={"type": "object", "properties": {"rules": RULES}},
    response_schema=PREVIEW,
)
def preview_rules() -> Any:
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("the body must be an object", {"": "must be an object"})
    return _preview(segments.validate(body.get("rules")))


@operation(
    "POST",
    "/lists",
    "Create a static list",
    request_schema={
        "type": "object",
        "required": ["name"],
        "properties": {"name": {"type": "string"}},
    },
    response_schema=LIST,
    status=201,
    write=True,
)
def create_list() -> Any:
    session = deps.session()
    found = lists.create(session, _name(json_body()))
    session.commit()
    return lists.to_dict(session, found), 201


@operation("GET", "/lists/{id}", "Read a static list", response_schema=LIST, parameters=ID)
def get_list(id: int) -> Any:
    session = deps.session()
    return lists.to_dict(session, lists.get(session, id))


@operation(
    "POST",
    "/lists/{id}/members",
    "Add members to a static list by id and/or email",
    request_schema={
        "type": "object",
        "properties": {
            "ids": {"type": "array", "items": {"type": "integer"}},
            "emails": {"type": "array", "items": {"type": "string"}},
        },
    },
    response_schema={"type": "object"},
    write=True,
    parameters=ID,
)
def add_list_members(id: int) -> Any:
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("the body must be an object", {"": "must be an object"})
    ids, emails = body.get("ids") or [], body.get("emails") or []
    if not isinstance(ids, list) or not isinstance(emails, list):
        raise ValidationError("ids and emails must be lists", {"ids": "must be a list"})
    session = deps.session()
    result = lists.add(session, id, ids, emails)
    session.commit()
    return result


@operation(
    "POST",
    "/suppressions",
    "Suppress an address on a channel (manual); consent can't be granted to it again",
    request_schema={
        "type": "object",
        "required": ["channel", "address"],
        "properties": {
            "channel": {"type": "string", "enum": ["email", "sms"]},
            "address": {"type": "string"},
            "reason": {"type": "string", "enum": list(suppression.REASONS)},
            "detail": {"type": "string"},
        },
    },
    response_schema={"type": "object"},
    status=201,
    write=True,
)
def create_suppression() -> Any:
    body = json_body()
    if not isinstance(body, dict):
        raise ValidationError("the body must be an object", {"": "must be an object"})
    session = deps.session()
    row = suppression.suppress(
        session,
        str(body.get("channel") or ""),
        str(body.get("address") or ""),
        str(body.get("reason") or "manual"),
        body.get("detail") if isinstance(body.get("detail"), str) else None,
    )
    session.commit()
    return {"channel": row.channel, "address": row.address, "reason": row.reason}, 201
