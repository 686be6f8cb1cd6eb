"""The database: declarative base with a naming convention, engines and session scopes."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from functools import cached_property
from typing import Any, TypeVar

from sqlalchemy import JSON, DateTime, MetaData, create_engine, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
from sqlalchemy.orm import DeclarativeBase, Session, sessionmaker
from sqlalchemy.types import TypeDecorator

log = logging.getLogger(__name__)
T = TypeVar("T")

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware datetimes stored as UTC; SQLite hands back naive values, made aware here."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError(f"naive datetime {value!r} given where an aware one is needed")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


JSONType = JSON().with_variant(JSONB(), "postgresql")


class Base(DeclarativeBase):
    """Declarative base for every Herald table."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSONType}


def make_engine(url: str, **kwargs: Any) -> Engine:
    """Create an engine; SQLite gets WAL, a busy timeout and enforced foreign keys so that the web,
    worker and scheduler processes of ``make run`` can share one file."""
    if url.startswith("sqlite"):
        kwargs.setdefault("connect_args", {"timeout": 30, "check_same_thread": False})
        engine = create_engine(url, **kwargs)

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # take Python's transaction handling away so BEGIN IMMEDIATE below is ours
            dbapi_connection.isolation_level = None
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.execute("PRAGMA busy_timeout=30000")
            cursor.close()

        @event.listens_for(engine, "begin")
        def _sqlite_begin(conn: Any) -> None:
            # a write lock up front: deferred transactions that later write deadlock under load
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kwargs.setdefault("pool_pre_ping", True)
    return create_engine(url, **kwargs)


def connection_lost(exc: DBAPIError) -> bool:
    """True when ``exc`` says the server went away (a restart, a failover, a stale pooled
    connection), so the same work can be tried again on a fresh connection; False for an error
    the statement itself caused."""
    return exc.connection_invalidated or isinstance(exc, OperationalError | InterfaceError)


class Database:
    """One engine and its session factory."""

    def __init__(self, url: str, **engine_kwargs: Any) -> None:
        self.url = url
        self.engine = make_engine(url, **engine_kwargs)
        self.sessions = sessionmaker(self.engine, expire_on_commit=False)

    @cached_property
    def single_statements(self) -> Engine:
        """An engine for writes that are one statement each (tracking events): on PostgreSQL in
        autocommit and without the pre-ping, so such a write is one round trip instead of five
        (ping, BEGIN, statement, COMMIT, reset). Callers retry once when
        ``DBAPIError.connection_invalidated`` says a pooled connection had gone stale. On SQLite,
        the main engine (its transactions take the write lock up front)."""
        if self.is_sqlite:
            return self.engine
        return make_engine(self.url, isolation_level="AUTOCOMMIT", pool_pre_ping=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @contextmanager
    def session(self) -> Iterator[Session]:
        """A session that commits when the block ends cleanly and rolls back otherwise."""
        session = self.sessions()
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()

    def through_outage(
        self,
        work: Callable[[Session], T],
        patience: float = 300.0,
        pause: float = 1.0,
        before_retry: Callable[[], None] | None = None,
    ) -> T:
        """Run ``work(session)`` in a transaction; when the connection to the server is lost (a
        restart, a failover), run it again on a fresh connection until ``patience`` seconds have
        passed. For writes that must not be dropped and are safe to repeat, such as closing ledger
        rows after their messages went out: a commit lost in a crash may have happened, so
        ``work`` must be idempotent. ``before_retry`` undoes in-memory effects of a failed try."""
        deadline = time.monotonic() + patience
        while True:
            try:
                with self.session() as session:
                    return work(session)
            except DBAPIError as exc:
                if not connection_lost(exc) or time.monotonic() >= deadline:
                    raise
                log.warning("database unavailable, trying again: %s", str(exc).splitlines()[0])
                if before_retry is not None:
                    before_retry()
                time.sleep(pause)

    def dispose(self) -> None:
        self.engine.dispose()
        if "single_statements" in self.__dict__:
            self.single_statements.dispose()
