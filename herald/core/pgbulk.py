"""Many rows at once on PostgreSQL, without a multi-row ``VALUES`` list (a new, ever longer
statement text every time, whose client-side parsing cost more than the database's work):

- :func:`unnest` / :func:`params`: each column bound as one typed array, read back with
  ``unnest``; the statement text is the same for 10 rows or 10,000. Element types come from the
  table's own columns, so a column's type is written down once.
- :func:`copy`: ``COPY … FROM STDIN`` in the session's transaction, rows formatted by the
  driver's C code, with ids taken beforehand from the table's sequence (:func:`next_ids`).
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from functools import cache
from typing import Any

import psycopg
from sqlalchemy import JSON, Table, text
from sqlalchemy.dialects import postgresql
from sqlalchemy.exc import DataError, IntegrityError
from sqlalchemy.orm import Session

_DIALECT = postgresql.dialect()


@cache
def element_type(table: Table, column: str) -> str:
    """The PostgreSQL type an array of ``column``'s values is cast to. Text columns become
    ``text``: an overlong value then fails on assignment to the column, as a direct write would."""
    compiled = table.c[column].type.compile(dialect=_DIALECT)
    if compiled.startswith(("VARCHAR", "CHAR", "TEXT")):
        return "text"
    return compiled


def _is_json(table: Table, column: str) -> bool:
    kind = table.c[column].type
    impl = kind.dialect_impl(_DIALECT)
    return isinstance(impl, JSON) or isinstance(getattr(kind, "impl", None), JSON)


@cache
def _json_columns(table: Table, columns: tuple[str, ...]) -> frozenset[str]:
    """Which of ``columns`` hold JSON: their values are serialised here, as the column type
    would have done (worked out once, not for every value)."""
    return frozenset(c for c in columns if _is_json(table, c))


def unnest(table: Table, columns: Sequence[str], alias: str = "v") -> str:
    """``unnest(CAST(:a_x AS t[]), …) AS v(x, …)`` for ``columns`` of ``table``."""
    arrays = ", ".join(f"CAST(:a_{c} AS {element_type(table, c)}[])" for c in columns)
    return f"unnest({arrays}) AS {alias}({', '.join(columns)})"


def params(table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]) -> dict:
    """The array parameters of :func:`unnest` for ``rows`` (a missing key is NULL; JSON values
    are serialised here, as the column type would have done)."""
    json_columns = _json_columns(table, tuple(columns))
    out: dict[str, list[Any]] = {}
    for column in columns:
        values = [row.get(column) for row in rows]
        if column in json_columns:
            values = [None if v is None else json.dumps(v) for v in values]
        out[f"a_{column}"] = values
    return out


def next_ids(session: Session, table: Table, count: int) -> list[int]:
    """``count`` new ids from ``table``'s id sequence, in order."""
    statement = text(
        "SELECT nextval(pg_get_serial_sequence(:table, 'id')) FROM generate_series(1, :count)"
    )
    return list(session.scalars(statement, {"table": table.name, "count": count}))


def copy(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Mapping[str, Any]]
) -> None:
    """``COPY table (columns) FROM STDIN`` of ``rows`` in the session's transaction. A refused
    row raises SQLAlchemy's :class:`IntegrityError` or :class:`DataError`, as an INSERT would."""
    json_columns = _json_columns(table, tuple(columns))
    driver = session.connection().connection.driver_connection
    assert isinstance(driver, psycopg.Connection)
    statement = f"COPY {table.name} ({', '.join(columns)}) FROM STDIN"
    try:
        with driver.cursor() as cursor, cursor.copy(statement) as out:
            for row in rows:
                out.write_row(
                    [json.dumps(row.get(c)) if c in json_columns else row.get(c) for c in columns]
                )
    except psycopg.IntegrityError as exc:
        raise IntegrityError(statement, None, exc) from exc
    except psycopg.DataError as exc:
        raise DataError(statement, None, exc) from exc
