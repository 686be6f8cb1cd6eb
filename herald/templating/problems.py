"""What a template that cannot be used says: the field, the line and the problem."""

from __future__ import annotations


class TemplateProblem(ValueError):
    """A variant's template does not compile or render; names the field and the line."""

    def __init__(self, field: str, message: str, line: int | None = None) -> None:
        where = f" (line {line})" if line else ""
        super().__init__(f"{field}{where}: {message}")
        self.field = field
        self.line = line
        self.detail = message
