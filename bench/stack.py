"""The production shape, started the way the contract starts it: a fresh PostgreSQL database, a
Redis broker, ``herald web`` (gunicorn), ``herald worker`` and ``herald scheduler`` processes, and
the fast SMTP sink, each in its own process. Used as a context manager by the benchmarks.

Environment: HERALD_TEST_DATABASE_URL (server to create the database on), HERALD_TEST_REDIS_URL.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from pathlib import Path
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import Engine, make_url

PG = os.environ.get("HERALD_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test")
REDIS = os.environ.get("HERALD_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_port(port: int, timeout: float = 20) -> None:
    """Wait until something listens on 127.0.0.1:``port``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {port}")


def _redis_db(url: str, db: int) -> str:
    base = url.rsplit("/", 1)[0] if url.count("/") > 2 else url
    return f"{base}/{db}"


def rss_kib(pid: int) -> int:
    """Resident memory of one process, KiB (0 when it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


def children(pid: int) -> list[int]:
    """Direct and indirect child processes of ``pid``."""
    found: list[int] = []
    try:
        kids = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return found
    for kid in map(int, kids):
        found += [kid, *children(kid)]
    return found


class MemoryWatch(threading.Thread):
    """Samples the resident memory of a process tree; keeps the peak of the largest process
    and of the tree's total."""

    def __init__(self, pid: int, every: float = 0.25) -> None:
        super().__init__(daemon=True)
        self.pid, self.every = pid, every
        self.peak_process = self.peak_total = 0
        self._done = threading.Event()

    def run(self) -> None:
        while not self._done.is_set():
            sizes = [rss_kib(p) for p in [self.pid, *children(self.pid)]]
            self.peak_process = max(self.peak_process, *sizes)
            self.peak_total = max(self.peak_total, sum(sizes))
            self._done.wait(self.every)

    def stop(self) -> None:
        self._done.set()
        self.join(timeout=5)


class Stack:
    """A throw-away Herald installation in the production shape."""

    def __init__(
        self,
        name: str,
        worker_processes: int = 2,
        web_workers: int | None = None,
        web: bool = True,
        worker: bool = True,
        scheduler: bool = True,
        extra_env: dict[str, str] | None = None,
    ) -> None:
        self.name = f"herald_bench_{name}_{os.getpid()}"
        self.worker_processes = worker_processes
        self.web_workers = web_workers or os.cpu_count() or 1
        self.web_threads = int(os.environ.get("BENCH_WEB_THREADS", "4"))
        self.want = {"web": web, "worker": worker, "scheduler": scheduler}
        self.extra_env = extra_env or {}
        self.tmp = Path(tempfile.mkdtemp(prefix="herald-bench-"))
        self.port = free_port()
        self.smtp_port = free_port()
        self.procs: dict[str, subprocess.Popen[bytes]] = {}
        self.admin_url = make_url(PG)
        self.url = self.admin_url.set(database=self.name).render_as_string(hide_password=False)
        self.engine: Engine | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def __enter__(self) -> Stack:
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}"'))
            conn.execute(text(f'CREATE DATABASE "{self.name}"'))
        admin.dispose()
        self.env = self._env()
        subprocess.run(self.herald("db", "upgrade"), env=self.env, check=True, capture_output=True)
        self.engine = create_engine(self.url)
        self.spawn("sink", [sys.executable, "-m", "bench.smtp_sink", str(self.smtp_port)])
        self._wait_port(self.smtp_port)
        if self.want["web"]:
            web = ["web", "--port", str(self.port), "--workers", str(self.web_workers)]
            web += ["--threads", str(self.web_threads)]
            self.spawn("web", self.herald(*web))
            self.wait_http("/healthz")
        if self.want["worker"]:
            self.start_worker(self.worker_processes)
        if self.want["scheduler"]:
            self.spawn("scheduler", self.herald("scheduler"))
        return self

    def __exit__(self, *exc: Any) -> None:
        for name in list(self.procs):
            self.stop(name)
        if self.engine is not None:
            self.engine.dispose()
        admin = create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
        admin.dispose()

    def start_worker(self, processes: int) -> None:
        """(Re)start ``herald worker`` with ``processes`` prefork processes."""
        if "worker" in self.procs:
            self.stop("worker")
        self.spawn("worker", self.herald("worker", "--concurrency", str(processes)))

    # -- helpers ---------------------------------------------------------------------------
    def gunicorn(self, app: str, port: int) -> list[str]:
        """gunicorn serving ``app`` with the same workers, threads and worker class as
        ``herald web`` in this stack."""
        kind = "gthread" if self.web_threads > 1 else "sync"
        return [
            sys.executable,
            "-m",
            "gunicorn",
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            str(self.web_workers),
            "--threads",
            str(self.web_threads),
            "--worker-class",
            kind,
            app,
        ]

    def herald(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "herald", *args]

    def spawn(self, name: str, argv: list[str]) -> subprocess.Popen[bytes]:
        log = open(self.tmp / f"{name}.log", "ab")  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(argv, env=self.env, cwd=ROOT, stdout=log, stderr=log)
        self.procs[name] = proc
        return proc

    def stop(self, name: str) -> None:
        proc = self.procs.pop(name)
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def sql(self, statement: str, **params: Any) -> Any:
        """Run one statement in its own transaction; the first column of the first row."""
        assert self.engine is not None
        with self.engine.begin() as conn:
            result = conn.execute(text(statement), params)
            return result.scalar() if result.returns_rows else None

    def sql_all(self, statement: str, **params: Any) -> list[Any]:
        """Run one query in its own transaction; every row."""
        assert self.engine is not None
        with self.engine.begin() as conn:
            return list(conn.execute(text(statement), params).all())

    def wait_http(self, path: str, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{self.port}{path}", timeout=5)
                return
            except OSError as exc:
                if time.monotonic() > deadline:
                    log = self.tmp / "web.log"
                    raise RuntimeError(f"web did not answer {path}; see {log}") from exc
                time.sleep(0.3)

    def _wait_port(self, port: int, timeout: float = 20) -> None:
        wait_port(port, timeout)

    def _env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
        env.update(
            {
                "HERALD_INSTANCE_PATH": str(self.tmp / "instance"),
                "HERALD_DATABASE_URL": self.url,
                "HERALD_BROKER_URL": _redis_db(REDIS, 14),
                "HERALD_REDIS_URL": _redis_db(REDIS, 15),
                "HERALD_QUEUE": self.name,
                "HERALD_SECRET_KEY": "bench-secret",
                "HERALD_PUBLIC_URL": f"http://127.0.0.1:{self.port}",
                "HERALD_SMTP_HOST": "127.0.0.1",
                "HERALD_SMTP_PORT": str(self.smtp_port),
                "HERALD_SHOP_WEBHOOK_SECRET": "whsec_" + "YmVuY2gtc2hvcC1zZWNyZXQtMzItYnl0ZXMhIQ==",
                "PYTHONPATH": str(ROOT),
            }
        )
        env.update(self.extra_env)
        return env
