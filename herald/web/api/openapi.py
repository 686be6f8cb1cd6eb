"""The OpenAPI document, generated from the registered operations."""

from __future__ import annotations

from typing import Any

from herald.web.api import OPERATIONS, operation
from herald.web.api.schemas import ERROR


def _success(op: Any, text: str) -> dict[str, Any]:
    """A success answer: 204 has no body, the others the operation's JSON."""
    if op.status == 204:
        return {"description": text}
    schema = op.response or {"type": "object"}
    content: dict[str, Any] = (
        {} if op.media and op.response is None else {"application/json": {"schema": schema}}
    )
    content.update({kind: {"schema": body} for kind, body in op.media.items()})
    return {"description": text, "content": content}


def document() -> dict[str, Any]:
    """OpenAPI 3.1 for every operation registered with :func:`operation`."""
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        entry: dict[str, Any] = {
            "summary": op.summary,
            "operationId": f"{op.method.lower()}_{op.path.strip('/').replace('/', '_')}",
            "parameters": op.parameters,
            "responses": {
                **{
                    str(code): _success(op, text)
                    for code, text in {op.status: "success", **op.also}.items()
                },
                **{
                    str(code): {
                        "description": text,
                        "content": {"application/json": {"schema": ERROR}},
                    }
                    for code, text in (
                        (400, "malformed request"),
                        (401, "missing or bad token"),
                        (403, "role not allowed"),
                        (404, "not found"),
                        (409, "conflict"),
                        (422, "invalid values"),
                        (429, "too many requests"),
                    )
                },
            },
        }
        if op.public:
            entry["security"] = []
        if op.request is not None:
            entry["requestBody"] = {
                "required": True,
                "content": {"application/json": {"schema": op.request}},
            }
        paths.setdefault(op.path, {})[op.method.lower()] = entry
    return {
        "openapi": "3.1.0",
        "info": {"title": "Herald API", "version": "1"},
        "servers": [{"url": "/api/v1"}],
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
        },
        "security": [{"bearer": []}],
        "paths": paths,
    }


@operation("GET", "/openapi.json", "This document", public=True)
def openapi_json() -> Any:
    return document()
