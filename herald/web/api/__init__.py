"""The REST API under /api/v1: bearer auth, the contract's error shape, and an OpenAPI document
built from the routes themselves."""

from __future__ import annotations

import functools
import json
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import Blueprint, Response, g, jsonify, request
from werkzeug.exceptions import HTTPException

from herald.core import clock
from herald.core.accounts import find_token
from herald.core.errors import HeraldError, ValidationError
from herald.web import deps

blueprint = Blueprint("api", __name__, url_prefix="/api/v1")

WRITE_ROLES = ("admin", "marketer")
MAX_ID = 2_147_483_647  # the largest id an INTEGER column holds
# path parameters that are names, not ids (``/promotion-templates/{key}/apply``)
TEXT_PARAMS = frozenset({"key"})


@dataclass
class Operation:
    """One documented endpoint: the OpenAPI document is made from these."""

    method: str
    path: str
    summary: str
    request: dict[str, Any] | None = None
    response: dict[str, Any] | None = None
    status: int = 200
    write: bool = False
    public: bool = False
    parameters: list[dict[str, Any]] = field(default_factory=list)
    # other success answers, e.g. 200 when an upsert updated instead of creating
    also: dict[int, str] = field(default_factory=dict)
    # success bodies other than JSON, by media type (e.g. the weekly report as CSV or PDF)
    media: dict[str, dict[str, Any]] = field(default_factory=dict)


OPERATIONS: list[Operation] = []


def error_response(
    status: int, code: str, message: str, fields: dict[str, str] | None = None
) -> tuple[Response, int]:
    """The contract's error body."""
    return jsonify(error={"code": code, "message": message, "fields": fields or {}}), status


def operation(
    method: str,
    path: str,
    summary: str,
    *,
    request_schema: dict[str, Any] | None = None,
    response_schema: dict[str, Any] | None = None,
    status: int = 200,
    write: bool = False,
    public: bool = False,
    parameters: list[dict[str, Any]] | None = None,
    also: dict[int, str] | None = None,
    media: dict[str, dict[str, Any]] | None = None,
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Register a route and its OpenAPI description in one place. ``write`` endpoints need the
    admin or marketer role; ``public`` ones need no token."""
    op = Operation(
        method,
        path,
        summary,
        request_schema,
        response_schema,
        status,
        write,
        public,
        parameters or [],
        also or {},
        media or {},
    )
    OPERATIONS.append(op)
    # a path parameter is an id unless it is text: a gallery template's key, or one the spec
    # types as a string (a tier's name)
    text = TEXT_PARAMS | {
        param["name"]
        for param in parameters or []
        if param.get("in") == "path" and param.get("schema", {}).get("type") == "string"
    }
    flask_path = re.sub(
        r"\{(\w+)\}",
        lambda m: f"<{m[1]}>" if m[1] in text else f"<int:{m[1]}>",
        path,
    )

    def decorator(fn: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            if not public:
                problem = _authenticate(write)
                if problem is not None:
                    return problem
            for name, value in kwargs.items():
                # a path id beyond what the INTEGER column holds names nothing (werkzeug's
                # int(max=...) answers 405 when another method shares the path, so check here)
                if isinstance(value, int) and value > MAX_ID:
                    return error_response(404, "not_found", f"no such {name}: {value}")
            result = fn(*args, **kwargs)
            if isinstance(result, tuple | Response):
                return result
            return jsonify(result), status

        blueprint.add_url_rule(flask_path, fn.__name__, wrapper, methods=[method])
        return wrapper

    return decorator


def _authenticate(write: bool) -> tuple[Response, int] | None:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return error_response(401, "unauthorized", "send Authorization: Bearer <token>")
    session = deps.session()
    api_token = find_token(session, token.strip())
    if api_token is None:
        return error_response(401, "unauthorized", "unknown or revoked token")
    if write and api_token.role not in WRITE_ROLES:
        return error_response(403, "forbidden", f"a {api_token.role} token cannot change data")
    api_token.last_used_at = clock.now()
    g.api_token = api_token
    return None


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def json_body(*, refuse_nul: bool = True) -> Any:
    """The request's JSON; malformed JSON (NaN and Infinity included) is a 400 in the
    contract's shape, and a NUL character anywhere a 422 naming its place (``refuse_nul=False``
    for endpoints that check each item themselves, such as bulk upserts)."""
    if not request.data:
        raise HeraldError("the body must be JSON", {"": "empty body"})
    try:
        body = json.loads(request.get_data(cache=True), parse_constant=_refuse_constant)
    except (ValueError, RecursionError):
        raise HeraldError("the body is not valid JSON", {"": "malformed JSON"}) from None
    # databases refuse NUL in text: name the place instead of failing at the INSERT
    from herald.audiences.contacts import find_nul

    found = find_nul(body, "") if refuse_nul else None
    if found is not None:
        place, message = found
        raise ValidationError(f"{place or 'body'}: {message}", {place or "": message})
    return body


@blueprint.errorhandler(HeraldError)
def _herald_error(exc: HeraldError) -> tuple[Response, int]:
    deps.session().rollback()
    return error_response(exc.status, exc.code, exc.message, exc.fields)


@blueprint.errorhandler(HTTPException)
def _http_error(exc: HTTPException) -> tuple[Response, int]:
    code = (exc.name or "error").lower().replace(" ", "_")
    return error_response(exc.code or 500, code, exc.description or exc.name)


from herald.web.api import (  # noqa: E402, F401
    campaigns,
    contacts,
    journeys,
    lists,
    openapi,
    promotions,
    reports,
    segments,
    tier_benefits,
    triggers,
    workspace,
)
