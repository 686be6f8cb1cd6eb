"""What the fault scenarios share: a private PostgreSQL cluster and Redis server (the shared ones
must never be killed), an SMTP server that can be told to slow down, drop a connection, refuse
for a while or refuse one recipient for ever, and the figures each scenario leaves behind for
RELIABILITY.md."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import pwd
import re
import shutil
import subprocess
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from glob import glob
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import create_engine, func, select, text

from herald.campaigns.models import Delivery
from herald.core.db import Database
from herald.core.migrate import upgrade
from tests.conftest import free_port
from tests.workers.support import kill_hard, start_scheduler, start_worker, stop, wait_for

# the scenarios' results, one JSON file each; scripts/fault_table.py renders them
RESULTS = Path(os.environ.get("HERALD_FAULT_RESULTS", "build/faults"))


def size(name: str, full: int) -> int:
    """A scenario's size: the issue's figure unless ``HERALD_FAULT_<NAME>`` says otherwise."""
    return int(os.environ.get(f"HERALD_FAULT_{name.upper()}", full))


# --------------------------------------------------------------------------- PostgreSQL


def _pg_bin(tool: str) -> str:
    """A PostgreSQL server tool: ``HERALD_PG_BIN``, else the newest installed version's."""
    folder = os.environ.get("HERALD_PG_BIN")
    if folder:
        return str(Path(folder) / tool)
    found = sorted(glob(f"/usr/lib/postgresql/*/bin/{tool}"), key=_version)
    if found:
        return found[-1]
    located = shutil.which(tool)
    if located is None:
        raise RuntimeError(f"{tool} not found: install PostgreSQL's server or set HERALD_PG_BIN")
    return located


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"/(\d+)/bin/", path))


class PrivatePostgres:
    """A PostgreSQL cluster of this test session's own (initdb into a temporary folder, trust
    authentication, a free port), so a scenario may stop and restart it. As root, the server runs
    as the ``postgres`` user (PostgreSQL refuses to run as root)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="herald-faults-pg-"))
        self.data = self.folder / "data"
        self.log = self.folder / "server.log"
        self.user: pwd.struct_passwd | None = None
        if os.geteuid() == 0:
            self.user = pwd.getpwnam("postgres")
            os.chown(self.folder, self.user.pw_uid, self.user.pw_gid)
        self.url = f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/herald"

    def _run(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[bytes]:
        command = list(args)
        if self.user is not None:
            command = ["runuser", "-u", "postgres", "--", *command]
        return subprocess.run(command, check=check, capture_output=True, timeout=120)

    def create(self) -> None:
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "--no-sync",
        )
        self.start()
        admin = create_engine(
            f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres",
            isolation_level="AUTOCOMMIT",
        )
        with admin.connect() as conn:
            conn.execute(text("CREATE DATABASE herald"))
        admin.dispose()
        upgrade(self.url)

    def start(self) -> None:
        options = (
            f"-p {self.port} -c listen_addresses=127.0.0.1 -c unix_socket_directories={self.folder}"
            # fsync off only matters if the machine itself crashes; commits stay synchronous, so
            # a killed server keeps every commit it acknowledged, as a production one does
            " -c fsync=off -c full_page_writes=off"
            " -c max_connections=200"
        )
        pg_ctl = _pg_bin("pg_ctl")
        self._run(pg_ctl, "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "start")

    def running(self) -> bool:
        status = self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "status", check=False)
        return status.returncode == 0

    def start_if_stopped(self) -> None:
        """A scenario that failed mid-restart leaves the cluster down; the next one needs it."""
        if not self.running():
            self.start()

    def stop(self, mode: str = "fast") -> None:
        self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop", check=False)

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.folder, ignore_errors=True)


# --------------------------------------------------------------------------- SMTP


@dataclass
class FaultySmtp:
    """An aiosmtpd handler that records every accepted message (recipient and Message-ID) and can
    be told to misbehave:

    - ``delay``: seconds spent on each message, like a real server;
    - ``drop_at``: the Nth message's connection is cut before the reply (the message is *not*
      accepted), after which every ``MAIL FROM`` is refused with 421 for ``refuse_for`` seconds;
    - ``refuse``: recipients always refused at ``RCPT TO`` with the given reply.

    A message counts as received exactly when the server answered 250 to it: the handler runs on
    one event loop, so nothing is recorded that the client did not hear accepted."""

    delay: float = 0.0
    drop_at: int | None = None
    refuse_for: float = 0.0
    refuse: dict[str, str] = field(default_factory=dict)
    received: list[tuple[str, str]] = field(default_factory=list)
    data_seen: int = 0
    refused_mail: int = 0
    refused_rcpt: int = 0
    dropped_at: float | None = None  # monotonic time of the drop
    refusing_until: float = 0.0
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_MAIL(self, server, session, envelope, address, mail_options):  # type: ignore[no-untyped-def]
        if time.monotonic() < self.refusing_until:
            self.refused_mail += 1
            return "421 4.3.2 Service not available, try again later"
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):  # type: ignore[no-untyped-def]
        if address in self.refuse:
            self.refused_rcpt += 1
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        if self.delay:
            await asyncio.sleep(self.delay)
        self.data_seen += 1
        if self.drop_at is not None and self.data_seen == self.drop_at:
            self.dropped_at = time.monotonic()
            self.refusing_until = self.dropped_at + self.refuse_for
            server.transport.abort()  # cut before any reply: the client cannot know
            return "421 4.4.2 connection dropped"
        match = re.search(rb"(?im)^Message-ID:\s*(<[^>]+>)", envelope.original_content or b"")
        message_id = match.group(1).decode() if match else ""
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.received.append((rcpt, message_id))
        return "250 Message accepted"

    def count(self) -> int:
        with self.lock:
            return len(self.received)

    def by_recipient(self) -> Counter[str]:
        with self.lock:
            return Counter(rcpt for rcpt, _ in self.received)

    def message_ids(self) -> dict[str, set[str]]:
        with self.lock:
            out: dict[str, set[str]] = {}
            for rcpt, mid in self.received:
                out.setdefault(rcpt, set()).add(mid)
            return out


@contextlib.contextmanager
def smtp_server(handler: FaultySmtp):  # type: ignore[no-untyped-def]
    """Run ``handler`` on a free port; yields the port."""
    port = free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port
    finally:
        controller.stop()


# --------------------------------------------------------------------------- the ledger


def ledger(db: Database) -> dict[str, Any]:
    """The ledger's figures: rows by status, uncertain rows, open rows, per-contact rows."""
    with db.session() as session:
        statuses = dict(
            session.execute(select(Delivery.status, func.count()).group_by(Delivery.status)).all()
        )
        uncertain = session.scalar(select(func.count()).where(Delivery.uncertain.is_(True)))
        rows = session.scalar(select(func.count()).select_from(Delivery))
        contacts = session.scalar(select(func.count(func.distinct(Delivery.contact_id))))
    return {
        "statuses": statuses,
        "uncertain": uncertain,
        "rows": rows,
        "contacts": contacts,
        "open": statuses.get("pending", 0) + statuses.get("sending", 0),
    }


def open_rows(db: Database) -> int:
    with db.session() as session:
        return session.scalar(
            select(func.count()).where(Delivery.status.in_(("pending", "sending")))
        )


def wait_until(predicate, timeout: float, what: str, interval: float = 1.0):  # type: ignore[no-untyped-def]
    """:func:`tests.workers.support.wait_for` with the interval the scenarios use."""
    return wait_for(predicate, timeout, interval=interval, what=what)


# --------------------------------------------------------------------------- figures


class Figures(dict[str, Any]):
    """A scenario's figures; written to ``RESULTS/<scenario>.json`` when the test ends, with its
    outcome (see tests/faults/conftest.py)."""

    def __init__(self, scenario: str, title: str) -> None:
        super().__init__()
        self.scenario = scenario
        self.title = title
        self.notes: list[str] = []
        self.started = time.monotonic()

    def write(self, nodeid: str, outcome: str) -> None:
        RESULTS.mkdir(parents=True, exist_ok=True)
        body = {
            "scenario": self.scenario,
            "title": self.title,
            "test": nodeid,
            "outcome": outcome,
            "seconds": round(time.monotonic() - self.started, 1),
            "figures": dict(self),
            "notes": self.notes,
            "finished_at": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()),
        }
        path = RESULTS / f"scenario-{self.scenario}.json"
        path.write_text(json.dumps(body, indent=2, sort_keys=True, default=str) + "\n")


# --------------------------------------------------------------------------- Herald's processes


class Processes:
    """Herald's real processes for one scenario (workers, schedulers, web), stopped at the end
    whatever happened. Each worker is its own process group, so a kill takes its pool too."""

    def __init__(self, env: dict[str, str], folder: Path) -> None:
        self.env = env
        self.folder = folder
        self.workers: list[subprocess.Popen[bytes]] = []
        self.others: list[subprocess.Popen[bytes]] = []
        self.started = 0

    def worker(self, concurrency: int = 2) -> subprocess.Popen[bytes]:
        self.started += 1
        process = start_worker(self.env, self.folder / f"worker{self.started}.log", concurrency)
        self.workers.append(process)
        return process

    def scheduler(self) -> subprocess.Popen[bytes]:
        self.started += 1
        process = start_scheduler(self.env, self.folder / f"scheduler{self.started}.log")
        self.others.append(process)
        return process

    def kill_workers(self) -> int:
        """SIGKILL every live worker and its pool at once; returns how many were killed."""
        live = [w for w in self.workers if w.poll() is None]
        for process in live:
            kill_hard(process)
        self.workers = []
        return len(live)

    def worker_logs(self) -> str:
        return "".join(
            p.read_text(errors="replace") for p in sorted(self.folder.glob("worker*.log"))
        )

    def stop(self) -> None:
        for process in [*self.others, *self.workers]:
            with contextlib.suppress(Exception):
                stop(process)
