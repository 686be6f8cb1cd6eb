"""Opens and clicks through the journal (:mod:`herald.core.journal`): the tracking request
verifies the token, appends one line and answers; a drainer thread in the same web process
records the lines in batches (one transaction each, with the journal position), through the
same :func:`herald.intake.engagement.tracked` as before, so the machine-event window, journeys
and unique counts behave exactly as when the request wrote the event itself.

A line is ``{"k": kind, "d": delivery_id, "t": epoch seconds, "m": machine verdict, "x": data}``.
The event keeps the moment of the request (``t``), not of the drain.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import DBAPIError

from herald.campaigns.track_ingest import Tracked
from herald.core.db import connection_lost
from herald.core.journal import Journal
from herald.intake import engagement

log = logging.getLogger(__name__)

KINDS = {"o": "email.opened", "c": "email.clicked"}
_CODES = {v: k for k, v in KINDS.items()}


def encode(
    kind: str, delivery_id: int, at: datetime, machine: bool, data: Mapping[str, Any]
) -> bytes:
    """One journal line (no newline)."""
    record = {"k": _CODES[kind], "d": delivery_id, "t": at.timestamp(), "m": machine, "x": data}
    return json.dumps(record, separators=(",", ":"), ensure_ascii=True).encode()


def decode(line: bytes) -> tuple[str, int, datetime, bool, dict[str, Any]]:
    """``(kind, delivery_id, at, machine, data)`` of a line; ``ValueError`` when malformed."""
    try:
        record = json.loads(line)
        kind = KINDS[record["k"]]
        delivery_id = int(record["d"])
        at = datetime.fromtimestamp(float(record["t"]), UTC)
        data = record.get("x") or {}
        if not isinstance(data, dict):
            raise TypeError("data is not an object")
        return kind, delivery_id, at, bool(record.get("m")), data
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not a tracking record: {line[:80]!r} ({exc})") from exc


class TrackingJournal:
    """The tracking journal of one web process and its drainer thread."""

    def __init__(
        self,
        directory: Path,
        engine: Engine,
        *,
        window: timedelta,
        zone: ZoneInfo,
        interval: float = 0.25,
    ) -> None:
        self.journal = Journal(directory, "tracking")
        self.engine = engine
        self.window = window
        self.zone = zone
        self.interval = interval
        self._thread: threading.Thread | None = None
        self._thread_pid = 0
        self._wake = threading.Event()
        self._starting = threading.Lock()
        self._stop = threading.Event()
        self._orphans_every = max(1, int(5 / interval))  # look for dead processes' files every ~5 s

    def record(
        self, kind: str, delivery_id: int, at: datetime, machine: bool, data: Mapping[str, Any]
    ) -> None:
        """Append one open or click (the request's whole share of the work)."""
        self.journal.append(encode(kind, delivery_id, at, machine, data))
        if self._thread_pid != os.getpid():
            with self._starting:
                if self._thread_pid != os.getpid():
                    self._start()

    def apply(self, connection: Connection, lines: list[bytes]) -> None:
        """Record a batch of lines on ``connection``'s transaction. A line that cannot be
        recorded for a reason other than the database being away (malformed, or a bug) is
        logged and skipped, so it cannot hold the rest back forever."""
        items: list[Tracked] = []
        for line in lines:
            try:
                items.append(Tracked(*decode(line)))
            except ValueError as exc:
                log.warning("tracking record skipped: %s", exc)
        if not items:
            return
        try:
            with connection.begin_nested():
                engagement.tracked_many(connection, items, window=self.window, zone=self.zone)
            return
        except DBAPIError as exc:
            if connection_lost(exc):
                raise
            log.warning("tracking batch refused, recording one by one: %s", exc)
        except Exception:
            log.exception("tracking batch failed, recording one by one")
        for item in items:
            try:
                with connection.begin_nested():
                    engagement.tracked_many(connection, [item], window=self.window, zone=self.zone)
            except DBAPIError as exc:
                if connection_lost(exc):
                    raise
                log.exception("tracking record skipped: %r", item)
            except Exception:
                log.exception("tracking record skipped: %r", item)

    def drain(self, adopt: bool = True) -> int:
        """Record everything appended so far (and dead processes' files with ``adopt``)."""
        return self.journal.drain(self.engine, self.apply, adopt=adopt)

    def _start(self) -> None:
        self._thread_pid = os.getpid()
        self._stop.clear()
        self._thread = threading.Thread(target=self._loop, name="tracking-journal", daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        turn = 0
        while not self._stop.is_set():
            self._wake.wait(self.interval)
            self._wake.clear()
            turn += 1
            try:
                self.drain(adopt=turn % self._orphans_every == 1)
            except DBAPIError as exc:
                # the database is away: the lines wait in the file
                log.warning("tracking journal: database unavailable: %s", str(exc).splitlines()[0])
                self._stop.wait(1.0)
            except Exception:
                log.exception("tracking journal: drain failed")
                self._stop.wait(1.0)

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the drainer after one last drain of this process's file."""
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        try:
            self.drain(adopt=False)
        except Exception:
            log.exception("tracking journal: last drain failed; another process will take it")
        self.journal.close()
