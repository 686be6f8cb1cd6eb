"""An append-only journal of small records, written by a web process in microseconds and drained
into the database in batches, exactly once.

Why a file and not Redis or the database in the request: a record appended with one ``write``
to a file opened ``O_APPEND`` is in the kernel's page cache when the request is answered, so it
survives the process being killed, Redis restarting or PostgreSQL being away; the request does
no network round trip at all. (A power cut can lose what the last drain had not taken, as with
any write-back cache; the drain runs several times a second.)

Each process appends to its own file, holding an exclusive ``flock`` on it for its lifetime.
A drainer thread in the same process reads the file from the position recorded in
``journal_positions`` and hands the complete records to a callback that applies them and moves
the position forward *in the same transaction* (a compare-and-set on the old position), so a
batch is applied once even when the drainer dies between the commit and anything after it. A
file whose lock can be taken belongs to a process that has died: any drainer adopts it, drains
it to the end, deletes the file and then its position (in that order: a position without its
file is harmless, a file without its position would be applied again).

Files are created under a temporary name, locked, then renamed, so a drainer never adopts a
file whose owner has not locked it yet.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import secrets
import socket
import threading
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from sqlalchemy import BigInteger, String, delete, insert, select, update
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Mapped, mapped_column

from herald.core import clock
from herald.core.db import Base

log = logging.getLogger(__name__)

SUFFIX = ".journal"
READ_BYTES = 1 << 20  # at most this much per batch (about 5,000 tracking records)
ROTATE_BYTES = 16 << 20  # a fully drained file this large is replaced by a fresh one

# applies the records on the connection's transaction (the drainer commits)
Apply = Callable[[Connection, list[bytes]], None]


class JournalPosition(Base):
    """How far each journal file has been applied."""

    __tablename__ = "journal_positions"

    name: Mapped[str] = mapped_column(String(200), primary_key=True)
    position: Mapped[int] = mapped_column(BigInteger)
    updated_at: Mapped[datetime]


class PositionMoved(Exception):
    """Another drainer moved the position: nothing of this batch was applied."""


class _File:
    """One open, locked journal file."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self.position: int | None = None  # applied up to here (None: read it from the database)

    @property
    def name(self) -> str:
        return self.path.name

    def close(self) -> None:
        os.close(self.fd)


class Journal:
    """The journal files of one kind (``prefix``) in ``directory``."""

    def __init__(self, directory: Path, prefix: str) -> None:
        self.directory = directory
        self.prefix = prefix
        self._own: _File | None = None
        self._pid = 0
        self._lock = threading.Lock()
        os.register_at_fork(after_in_child=self._forget_after_fork)

    # ------------------------------------------------------------------ the writing side

    def append(self, record: bytes) -> None:
        """Append one record (no newline inside) with a single ``write``."""
        own = self._own
        if own is None or self._pid != os.getpid():
            own = self._open_own()
        os.write(own.fd, record + b"\n")

    def _open_own(self) -> _File:
        with self._lock:
            if self._own is not None and self._pid == os.getpid():
                return self._own
            self._own = self._create()
            self._pid = os.getpid()
            return self._own

    def _create(self) -> _File:
        self.directory.mkdir(parents=True, exist_ok=True)
        host = socket.gethostname().replace("-", "_")[:40]
        name = f"{self.prefix}-{host}-{os.getpid()}-{secrets.token_hex(4)}{SUFFIX}"
        temporary = self.directory / f".{name}.new"
        fd = os.open(temporary, os.O_RDWR | os.O_CREAT | os.O_APPEND | os.O_CLOEXEC, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        final = self.directory / name
        os.rename(temporary, final)
        return _File(final, fd)

    def _forget_after_fork(self) -> None:
        # the child must not append to (or hold the lock of) its parent's file
        if self._own is not None:
            with contextlib.suppress(OSError):
                os.close(self._own.fd)
        self._own = None
        self._pid = 0
        self._lock = threading.Lock()

    # ------------------------------------------------------------------ the draining side

    def drain(self, engine: Engine, apply: Apply, adopt: bool = True) -> int:
        """Apply everything written so far to this process's file (and, with ``adopt``, to the
        files of dead processes); returns the number of records applied."""
        applied = 0
        own = self._own if self._pid == os.getpid() else None
        if own is not None:
            applied += self._drain_file(engine, own, apply)
            if own.position is not None and own.position >= ROTATE_BYTES:
                applied += self._rotate(engine, own, apply)
        if adopt:
            for path in self._orphans():
                applied += self._adopt(engine, path, apply)
        return applied

    def _drain_file(self, engine: Engine, file: _File, apply: Apply) -> int:
        applied = 0
        while True:
            if file.position is None:
                file.position = _read_position(engine, file.name)
            data = os.pread(file.fd, READ_BYTES, file.position)
            end = data.rfind(b"\n")
            if end < 0:
                return applied
            data = data[: end + 1]
            records = [line for line in data.split(b"\n") if line]
            start = file.position
            try:
                with engine.begin() as connection:
                    apply(connection, records)
                    _move_position(connection, file.name, start, start + len(data))
            except PositionMoved:
                file.position = None
                continue
            except BaseException:
                file.position = None  # the commit's fate is unknown: read it back next time
                raise
            file.position = start + len(data)
            applied += len(records)

    def _rotate(self, engine: Engine, old: _File, apply: Apply) -> int:
        """Swap in a fresh file for this process, then drain and remove the old one."""
        with self._lock:
            if self._own is not old:
                return 0
            self._own = self._create()
        try:
            applied = self._drain_file(engine, old, apply)
        except BaseException:
            old.close()  # unlocked: any drainer (this one included) adopts it later
            raise
        self._remove(engine, old)
        return applied

    def _orphans(self) -> list[Path]:
        try:
            paths = sorted(self.directory.glob(f"{self.prefix}-*{SUFFIX}"))
        except OSError:
            return []
        own = self._own.path if self._own is not None else None
        return [p for p in paths if p != own]

    def _adopt(self, engine: Engine, path: Path, apply: Apply) -> int:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CLOEXEC)
        except FileNotFoundError:
            return 0  # another drainer finished it meanwhile
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return 0  # its process is alive, or another drainer has it
        file = _File(path, fd)
        if not path.exists():
            file.close()
            return 0  # finished and removed between the listing and the lock
        log.info("adopting journal %s", path.name)
        try:
            applied = self._drain_file(engine, file, apply)
        except BaseException:
            file.close()  # let it go, so it can be adopted again
            raise
        size = os.fstat(fd).st_size
        if file.position is not None and size > file.position:
            # a torn last record (its writer died mid-write): dropped, reported
            log.warning(
                "journal %s: %d bytes without an end dropped", path.name, size - file.position
            )
        self._remove(engine, file)
        return applied

    def _remove(self, engine: Engine, file: _File) -> None:
        file.path.unlink(missing_ok=True)
        file.close()
        with engine.begin() as connection:
            connection.execute(delete(JournalPosition).where(JournalPosition.name == file.name))

    def pending_bytes(self) -> int:
        """Bytes written to this process's file and not yet applied (for tests and health)."""
        own = self._own
        if own is None:
            return 0
        return os.fstat(own.fd).st_size - (own.position or 0)

    def close(self) -> None:
        """Close this process's file (it stays on disk until drained)."""
        with self._lock:
            if self._own is not None:
                self._own.close()
                self._own = None


def _read_position(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        found = connection.scalar(
            select(JournalPosition.position).where(JournalPosition.name == name)
        )
    return int(found or 0)


def _move_position(connection: Connection, name: str, start: int, end: int) -> None:
    """Compare-and-set the file's position from ``start`` to ``end``."""
    now = clock.now()
    table = JournalPosition.__table__
    if start == 0:
        exists = connection.scalar(select(table.c.position).where(table.c.name == name))
        if exists is None:
            connection.execute(insert(table).values(name=name, position=end, updated_at=now))
            return
    moved = connection.execute(
        update(table)
        .where(table.c.name == name, table.c.position == start)
        .values(position=end, updated_at=now)
    ).rowcount
    if moved != 1:
        raise PositionMoved(name)
