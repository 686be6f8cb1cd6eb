"""Starting real Celery worker processes for tests, and seeding many members fast."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import insert

from herald.audiences.models import Consent, Contact
from herald.core.db import Database


def seed_members(db: Database, count: int, domain: str = "example.com") -> None:
    """``count`` email-consenting members, inserted in bulk."""
    with db.session() as session:
        rows = [
            {"email": f"m{i:05d}@{domain}", "first_name": f"M{i}", "attributes": {}, "tier": "new"}
            for i in range(count)
        ]
        session.execute(insert(Contact), rows)
    with db.session() as session:
        ids = session.scalars(Contact.__table__.select().with_only_columns(Contact.id)).all()
        session.execute(
            insert(Consent),
            [{"contact_id": i, "channel": "email", "granted": True, "source": "test"} for i in ids],
        )


def worker_env(
    database_url: str, broker_url: str, queue: str, smtp_port: int, tmp: Path, **extra: str
) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    env.update(
        {
            "HERALD_INSTANCE_PATH": str(tmp / "instance"),
            "HERALD_DATABASE_URL": database_url,
            "HERALD_BROKER_URL": broker_url,
            "HERALD_QUEUE": queue,
            "HERALD_SECRET_KEY": "test-secret-key",
            "HERALD_PUBLIC_URL": "http://herald.test",
            "HERALD_SMTP_HOST": "127.0.0.1",
            "HERALD_SMTP_PORT": str(smtp_port),
            "HERALD_FREQUENCY_CAP": "off",
        }
    )
    env.update({f"HERALD_{k.upper()}": v for k, v in extra.items()})
    return env


def start_worker(env: dict[str, str], log: Path, concurrency: int = 2) -> subprocess.Popen[bytes]:
    """A real ``herald worker`` process (prefork pool) in its own process group."""
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "herald", "worker", "--concurrency", str(concurrency)],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def kill_hard(process: subprocess.Popen[bytes]) -> None:
    """SIGKILL the worker and its pool children at once: no shutdown, no acks, no cleanup."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(process.pid, signal.SIGKILL)
    process.wait(timeout=10)


def stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            kill_hard(process)


def wait_for(predicate, timeout: float, interval: float = 0.2, what: str = "condition"):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def start_scheduler(env: dict[str, str], log: Path) -> subprocess.Popen[bytes]:
    """A real ``herald scheduler`` process."""
    handle = log.open("ab")
    return subprocess.Popen(
        [sys.executable, "-m", "herald", "scheduler"],
        env=env,
        stdout=handle,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def start_redis(port: int, folder: Path) -> subprocess.Popen[bytes]:
    """A private Redis server (so a test may kill it without touching anyone else's)."""
    folder.mkdir(parents=True, exist_ok=True)
    process = subprocess.Popen(
        [
            "redis-server",
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(folder),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    import redis

    client = redis.Redis(port=port)
    wait_for(lambda: _pings(client), 10, what=f"redis on port {port}")
    return process


def _pings(client) -> bool:  # type: ignore[no-untyped-def]
    try:
        return bool(client.ping())
    except Exception:
        return False
