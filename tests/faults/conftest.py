"""Fixtures of the fault suite: a private PostgreSQL cluster for the session, a private Redis
server per scenario, and each scenario's figures written out with its outcome."""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from herald.core.db import Database
from tests.conftest import free_port, truncate_all
from tests.faults.support import Figures, PrivatePostgres
from tests.workers.support import kill_hard, start_redis


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):  # type: ignore[no-untyped-def]
    outcome = yield
    report = outcome.get_result()
    setattr(item, f"rep_{report.when}", report)


@pytest.fixture(scope="session")
def private_pg() -> Iterator[PrivatePostgres]:
    """A PostgreSQL cluster of the fault suite's own: scenarios may restart it."""
    cluster = PrivatePostgres()
    try:
        cluster.create()
    except Exception as exc:
        cluster.destroy()
        pytest.fail(f"could not start a private PostgreSQL cluster: {exc}")
    yield cluster
    cluster.destroy()


@pytest.fixture
def fault_db(private_pg: PrivatePostgres) -> Iterator[Database]:
    """The private cluster's database, emptied for this scenario."""
    private_pg.start_if_stopped()
    db = Database(private_pg.url)
    truncate_all(db)
    yield db
    db.dispose()


class PrivateRedis:
    """A Redis server of this scenario's own (killed and restarted at will)."""

    def __init__(self, folder: Path) -> None:
        if shutil.which("redis-server") is None:
            pytest.fail("redis-server is needed for the fault suite")
        self.port = free_port()
        self.folder = folder
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.process = start_redis(self.port, folder)

    def kill(self) -> None:
        kill_hard(self.process)

    def start(self) -> None:
        self.process = start_redis(self.port, self.folder)


@pytest.fixture
def private_redis(tmp_path: Path) -> Iterator[PrivateRedis]:
    server = PrivateRedis(tmp_path / "redis")
    yield server
    with contextlib.suppress(Exception):
        server.kill()


@pytest.fixture
def figures(request: pytest.FixtureRequest) -> Iterator[Figures]:
    """The scenario's figures (the test names its scenario number and title on the module:
    ``SCENARIO`` and ``TITLE``); written to build/faults/ with the outcome when the test ends."""
    module = request.module
    recorded = Figures(str(module.SCENARIO), module.TITLE)
    yield recorded
    call = getattr(request.node, "rep_call", None)
    outcome = "passed" if call is not None and call.passed else "failed"
    recorded.write(request.node.nodeid, outcome)
