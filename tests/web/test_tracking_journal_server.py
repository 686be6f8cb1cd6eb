"""Opens through ``herald web`` (gunicorn, two workers, PostgreSQL) with the tracking journal on:
a worker SIGKILLed in the middle of the load loses nothing (its journal file is adopted by the
worker that survives or the one gunicorn starts in its place), and no open is recorded twice."""

from __future__ import annotations

import os
import signal
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from bench.bench_tracking import AGENT, seed_deliveries
from bench.stack import Stack, children
from herald.templating.tracking import open_url

pytestmark = pytest.mark.postgres


def _fetch(port: int, paths: list[str], answered: list[int], lock: threading.Lock) -> None:
    for path in paths:
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}{path}", headers={"User-Agent": AGENT}
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                ok = response.status == 200
        except OSError:
            ok = False  # the killed worker's connection: not answered, so not counted
        if ok:
            with lock:
                answered.append(1)


def test_a_killed_web_worker_loses_no_open_and_none_is_recorded_twice():
    with Stack("journal", worker=False, scheduler=False) as stack:
        ids = seed_deliveries(stack, 300)
        public, secret = stack.env["HERALD_PUBLIC_URL"], stack.env["HERALD_SECRET_KEY"]
        paths = [open_url(public, secret, i).removeprefix(public) for i in ids] * 4
        answered: list[int] = []
        lock = threading.Lock()
        shares = [paths[k::4] for k in range(4)]
        threads = [
            threading.Thread(target=_fetch, args=(stack.port, share, answered, lock))
            for share in shares
        ]
        for thread in threads:
            thread.start()
        while len(answered) < len(paths) // 3:
            time.sleep(0.01)
        directory = Path(stack.env["HERALD_INSTANCE_PATH"]) / "tracking-journal"
        # a worker that has journaled opens (its file carries its pid)
        victim = next(
            pid
            for pid in children(stack.procs["web"].pid)
            if list(directory.glob(f"tracking-*-{pid}-*.journal"))
        )
        os.kill(victim, signal.SIGKILL)
        for thread in threads:
            thread.join(120)
        # every answered open is recorded (a request in flight at the kill may have been
        # journaled and not answered: recorded, not counted here), each once
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            recorded = stack.sql("SELECT count(*) FROM events WHERE type = 'email.opened'")
            if recorded >= len(answered) and not _journal_left(stack):
                break
            time.sleep(0.3)
        per_delivery = stack.sql(
            "SELECT max(n) FROM (SELECT count(*) AS n FROM events GROUP BY delivery_id) AS c"
        )
        assert len(answered) >= len(paths) - 8
        assert len(answered) <= recorded <= len(paths)
        assert per_delivery <= 4  # each delivery was opened four times: never recorded more
        assert not _journal_left(stack)
        assert not list(directory.glob(f"tracking-*-{victim}-*.journal"))  # adopted, removed


def _journal_left(stack: Stack) -> bool:
    """True while some journal file holds lines not yet recorded."""
    directory = Path(stack.env["HERALD_INSTANCE_PATH"]) / "tracking-journal"
    positions = dict(stack.sql_all("SELECT name, position FROM journal_positions"))
    for path in directory.glob("*.journal"):
        if path.stat().st_size > positions.get(path.name, 0):
            return True
    return False
