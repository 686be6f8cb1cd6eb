"""Errors the domain raises and the web and CLI layers turn into answers."""

from __future__ import annotations


class HeraldError(Exception):
    """Base class for errors a user can act on."""

    code = "error"
    status = 400

    def __init__(self, message: str, fields: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.fields = fields or {}


class ValidationError(HeraldError):
    """Valid JSON, invalid values: names each offending field."""

    code = "invalid"
    status = 422

    def first(self) -> tuple[str, str]:
        """The first field at fault and what is wrong with it; ``("", message)`` when the
        error names no field."""
        return next(iter(self.fields.items()), ("", self.message))


class NotFound(HeraldError):
    code = "not_found"
    status = 404


class Conflict(HeraldError):
    """The request clashes with the current state (e.g. a status transition not allowed)."""

    code = "conflict"
    status = 409
