"""Small SQL constructs that read the same on SQLite and PostgreSQL: JSON attribute access, a
month-day key for birthdays and byte-order (C) collation for text ordering."""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from sqlalchemy import Numeric, String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.elements import ColumnElement
from sqlalchemy.sql.functions import FunctionElement


class _JsonAccess(FunctionElement[Any]):
    """``(json column, key, sqlite path)``: the three clauses every JSON construct takes."""

    inherit_cache = True


class JsonType(_JsonAccess):
    """The JSON type of ``attributes.<key>``: 'number', 'string', 'boolean', 'null', 'object',
    'array', or SQL NULL when the key is absent."""

    type = String()
    name = "json_type_of"
    inherit_cache = True


class JsonText(_JsonAccess):
    """The value as text (meaningful when its JSON type is 'string' or 'boolean')."""

    type = String()
    name = "json_text_of"
    inherit_cache = True


class JsonNumber(_JsonAccess):
    """The value as a number; only meaningful (and only evaluated, inside a CASE) when its JSON
    type is 'number'."""

    type = Numeric()
    name = "json_number_of"
    inherit_cache = True


def _parts(element: _JsonAccess, compiler: Any, **kw: Any) -> tuple[str, str, str]:
    column, key, path = list(element.clauses)
    return (
        compiler.process(column, **kw),
        compiler.process(key, **kw),
        compiler.process(path, **kw),
    )


@compiles(JsonType, "postgresql")
def _json_type_pg(element: JsonType, compiler: Any, **kw: Any) -> str:
    column, key, _ = _parts(element, compiler, **kw)
    return f"jsonb_typeof({column} -> {key})"


@compiles(JsonType, "sqlite")
def _json_type_sqlite(element: JsonType, compiler: Any, **kw: Any) -> str:
    column, _, path = _parts(element, compiler, **kw)
    raw = f"json_type({column}, {path})"
    return (
        f"(CASE {raw} WHEN 'integer' THEN 'number' WHEN 'real' THEN 'number' "
        f"WHEN 'text' THEN 'string' WHEN 'true' THEN 'boolean' WHEN 'false' THEN 'boolean' "
        f"ELSE {raw} END)"
    )


@compiles(JsonText, "postgresql")
def _json_text_pg(element: JsonText, compiler: Any, **kw: Any) -> str:
    column, key, _ = _parts(element, compiler, **kw)
    return f"({column} ->> {key})"


@compiles(JsonText, "sqlite")
def _json_text_sqlite(element: JsonText, compiler: Any, **kw: Any) -> str:
    column, _, path = _parts(element, compiler, **kw)
    # json_type gives 'true'/'false' for booleans, matching PostgreSQL's ->> text
    return (
        f"(CASE WHEN json_type({column}, {path}) IN ('true', 'false') "
        f"THEN json_type({column}, {path}) ELSE json_extract({column}, {path}) END)"
    )


@compiles(JsonNumber, "postgresql")
def _json_number_pg(element: JsonNumber, compiler: Any, **kw: Any) -> str:
    column, key, _ = _parts(element, compiler, **kw)
    return f"CAST({column} ->> {key} AS NUMERIC)"


@compiles(JsonNumber, "sqlite")
def _json_number_sqlite(element: JsonNumber, compiler: Any, **kw: Any) -> str:
    column, _, path = _parts(element, compiler, **kw)
    return f"json_extract({column}, {path})"


class MonthDay(FunctionElement[str]):
    """'MM-DD' of a date column."""

    type = String()
    name = "month_day"
    inherit_cache = True


@compiles(MonthDay, "postgresql")
def _month_day_pg(element: MonthDay, compiler: Any, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)}, 'MM-DD')"


@compiles(MonthDay, "sqlite")
def _month_day_sqlite(element: MonthDay, compiler: Any, **kw: Any) -> str:
    return f"strftime('%m-%d', {compiler.process(element.clauses, **kw)})"


class ByteOrder(FunctionElement[str]):
    """Text compared by code point on both databases (PostgreSQL's locale collation would
    otherwise order differently from SQLite's BINARY)."""

    type = String()
    name = "byte_order"
    inherit_cache = True


@compiles(ByteOrder, "postgresql")
def _byte_order_pg(element: ByteOrder, compiler: Any, **kw: Any) -> str:
    return f'(({compiler.process(element.clauses, **kw)}) COLLATE "C")'


@compiles(ByteOrder, "sqlite")
def _byte_order_sqlite(element: ByteOrder, compiler: Any, **kw: Any) -> str:
    return f"({compiler.process(element.clauses, **kw)})"


def sqlite_path(key: str) -> str:
    """The SQLite JSON path of a top-level key (keys are checked to hold no quote)."""
    return f'$."{key}"'


def birthday_keys(today: date, days: int) -> list[str]:
    """'MM-DD' keys of every birthday that falls in ``today … today + days``. A 29 February
    birthday is celebrated on 28 February in years without one."""
    if days >= 366:
        days = 366
    keys: set[str] = set()
    for offset in range(days + 1):
        day = today + timedelta(days=offset)
        keys.add(day.strftime("%m-%d"))
        if day.month == 2 and day.day == 28 and not _leap(day.year):
            keys.add("02-29")
    return sorted(keys)


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def is_text(expr: ColumnElement[Any]) -> bool:
    """Whether ``expr`` is a text column (for choosing byte-order comparisons)."""
    return isinstance(expr.type, String)
