"""Shared fixtures: settings, databases (SQLite and a fresh PostgreSQL database per test session),
the Flask app and client, an API token, and a real SMTP server."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck
from hypothesis import settings as hypothesis_settings
from sqlalchemy import text

from bench.seed import scratch_database
from herald.core import clock
from herald.core.db import Base, Database
from herald.core.migrate import upgrade
from herald.core.settings import Settings

# these machines are shared and noisy: a slow draw is the machine, not the strategy
hypothesis_settings.register_profile(
    "herald", deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
hypothesis_settings.load_profile("herald")

PG_BASE = os.environ.get("HERALD_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS_URL = os.environ.get("HERALD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test session, migrated; dropped at the end."""
    with ExitStack() as stack:
        try:
            url = stack.enter_context(scratch_database(prefix="herald_t"))
        except Exception as exc:
            pytest.fail(f"PostgreSQL at {PG_BASE} is needed (HERALD_TEST_DATABASE_URL): {exc}")
        upgrade(url)
        yield url


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A migrated SQLite file that each test copies (migrating per test would be slow)."""
    path = tmp_path_factory.mktemp("sqlite") / "template.db"
    upgrade(f"sqlite:///{path}")
    return path


def truncate_all(database: Database) -> None:
    tables = [t.name for t in reversed(Base.metadata.sorted_tables)]
    with database.engine.begin() as conn:
        if database.is_sqlite:
            for table in tables:
                conn.execute(text(f'DELETE FROM "{table}"'))
        else:
            conn.execute(
                text(
                    "TRUNCATE " + ", ".join(f'"{t}"' for t in tables) + " RESTART IDENTITY CASCADE"
                )
            )


def make_settings(tmp_path: Path, database_url: str, **overrides: str) -> Settings:
    """Settings for a test: everything local, nothing read from the developer's environment."""
    env = {
        "HERALD_INSTANCE_PATH": str(tmp_path / "instance"),
        "HERALD_DATABASE_URL": database_url,
        "HERALD_BROKER_URL": "memory://",
        "HERALD_SECRET_KEY": "test-secret-key",
        "HERALD_PUBLIC_URL": "http://herald.test",
        "HERALD_SMTP_HOST": "127.0.0.1",
        "HERALD_SMTP_PORT": "2525",
        "HERALD_FREQUENCY_CAP": "off",
        "HERALD_BATCH_SIZE": "50",
        "HERALD_QUEUE": f"herald-test-{os.getpid()}",
        # tests read events right after the request; the journal has its own tests
        "HERALD_TRACKING_JOURNAL": "off",
    }
    env.update({f"HERALD_{k.upper()}": v for k, v in overrides.items()})
    return Settings.from_env(env)


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest) -> str:
    """Run a test once on SQLite and once on PostgreSQL."""
    return request.param


@pytest.fixture
def database_url(backend: str, tmp_path: Path, request: pytest.FixtureRequest) -> str:
    if backend == "sqlite":
        import shutil

        template = request.getfixturevalue("sqlite_template")
        path = tmp_path / "herald.db"
        shutil.copy(template, path)
        return f"sqlite:///{path}"
    return request.getfixturevalue("pg_url")


@pytest.fixture
def db(database_url: str) -> Iterator[Database]:
    database = Database(database_url)
    if not database.is_sqlite:
        truncate_all(database)
    yield database
    database.dispose()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return make_settings(tmp_path, database_url)


@pytest.fixture
def app(settings: Settings, db: Database):  # type: ignore[no-untyped-def]
    from herald.web.app import create_app

    application = create_app(settings, db)
    application.config.update(TESTING=True)
    return application


@pytest.fixture
def client(app):  # type: ignore[no-untyped-def]
    return app.test_client()


@pytest.fixture
def token(db: Database) -> str:
    from herald.core.accounts import create_token

    with db.session() as session:
        _, plain = create_token(session, "tests", "marketer")
    return plain


@pytest.fixture
def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture(autouse=True)
def _reset_clock() -> Iterator[None]:
    yield
    clock.reset()


# --------------------------------------------------------------------------- SMTP


@dataclass
class Received:
    sender: str
    recipients: list[str]
    data: bytes


@dataclass
class SmtpRecorder:
    """An aiosmtpd handler that keeps every message and can be told to refuse."""

    messages: list[Received] = field(default_factory=list)
    refuse: dict[str, str] = field(default_factory=dict)  # recipient -> SMTP reply
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: Any, session: Any, envelope: Any, address: str, options: Any
    ) -> str:
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.messages.append(
                Received(envelope.mail_from, list(envelope.rcpt_tos), envelope.original_content)
            )
        return "250 Message accepted"

    def by_recipient(self) -> dict[str, int]:
        counts: dict[str, int] = {}
        with self.lock:
            for message in self.messages:
                for rcpt in message.recipients:
                    counts[rcpt] = counts.get(rcpt, 0) + 1
        return counts


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def smtp_server() -> Iterator[tuple[SmtpRecorder, int]]:
    """A real SMTP server (aiosmtpd) on a free port, recording what it receives."""
    from aiosmtpd.controller import Controller

    recorder = SmtpRecorder()
    port = free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port)
    controller.start()
    yield recorder, port
    controller.stop()
