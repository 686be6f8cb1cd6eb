"""CSV import of members: streamed (constant memory), idempotent (the same file again changes
nothing), committed in chunks (a crash loses at most the chunk in flight, never half a row; a
re-run finishes the job), never overriding a suppression (consent goes through
:func:`herald.audiences.contacts.set_consent`).

Interfaces: :func:`import_file` (the CLI), :func:`create_job` + the Celery task
``herald.import_contacts(job_id)`` which calls :func:`run_job` (the admin upload).
"""

from __future__ import annotations

import itertools
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from herald.audiences import bulk, contacts, csvread
from herald.audiences.csvread import ImportFailed, Record
from herald.audiences.models import ImportJob
from herald.core import clock
from herald.core.db import Database
from herald.core.errors import ValidationError
from herald.core.readahead import ReadAhead
from herald.core.spreadsheet import SafeWriter

__all__ = ["ImportFailed", "ImportReport", "create_job", "import_file", "run_job"]

log = logging.getLogger(__name__)

CHUNK = 1000
STALE_AFTER = timedelta(minutes=10)  # a running job not updated for this long crashed
SHOWN_REJECTS = 100


@dataclass
class ImportReport:
    """Where an import stands (passed to progress callbacks) and how it ended."""

    size_bytes: int = 0
    bytes_read: int = 0
    processed: int = 0
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0
    rejects: list[tuple[int, str, str]] = field(default_factory=list)  # first SHOWN_REJECTS
    rejects_path: Path | None = None
    warning: str | None = None


class _Rejects:
    """The rejects CSV, opened on the first rejected row: line, field, reason, the row's cells."""

    def __init__(self, path: Path, header: list[str], report: ImportReport) -> None:
        self.path = path
        self.header = header
        self.report = report
        self.file: IO[str] | None = None
        self.writer: Any = None

    def add(self, line: int, name: str, reason: str, cells: list[str]) -> None:
        report = self.report
        report.rejected += 1
        if len(report.rejects) < SHOWN_REJECTS:
            report.rejects.append((line, name, reason))
        if self.writer is None:
            self.file = open(self.path, "w", encoding="utf-8-sig", newline="")  # noqa: SIM115
            self.writer = SafeWriter(self.file)
            self.writer.writerow(["line", "field", "reason", *self.header])
            report.rejects_path = self.path
        self.writer.writerow([line, name, reason, *cells])

    def close(self) -> None:
        if self.file is not None:
            self.file.close()


def import_file(
    db: Database,
    path: Path | str,
    *,
    encoding: str = "utf-8",
    rejects_path: Path | str | None = None,
    region: str = "CN",
    source: str = "import",
    chunk_size: int = CHUNK,
    progress: Callable[[ImportReport], None] | None = None,
    job_id: int | None = None,
) -> ImportReport:
    """Import ``path``; rejected rows go to ``rejects_path`` (default ``<name>.rejects.csv``
    beside the file, written only when a row is rejected). Raises :class:`ImportFailed` with
    one clear line when the file can't be read at all."""
    path = Path(path)
    header, records, counter = csvread.read(path, encoding)
    report = ImportReport(size_bytes=path.stat().st_size)
    if header.ignored:
        report.warning = "ignored unknown columns: " + ", ".join(header.ignored)[:900]
    target = Path(rejects_path) if rejects_path else path.with_name(path.stem + ".rejects.csv")
    rejects = _Rejects(target, header.columns, report)
    ahead = ReadAhead(_checked_chunks(records, counter, chunk_size, region))
    try:
        for chunk in ahead:
            report.processed += chunk.rows
            _store(db, chunk, report, rejects, source, region, job_id)
            if progress and chunk.rows == chunk_size:
                progress(report)
    finally:
        ahead.close()
        rejects.close()
    report.bytes_read = report.size_bytes
    if progress:
        progress(report)
    return report


@dataclass
class _Chunk:
    """Up to ``chunk_size`` rows, checked: the good ones with their cleaned values, the bad
    ones as (line, field, reason, cells)."""

    rows: int
    good: list[tuple[Record, dict[str, Any]]]
    bad: list[tuple[int, str, str, list[str]]]
    bytes_read: int


def _checked_chunks(
    records: Iterator[Record], counter: csvread.CountingReader, chunk_size: int, region: str
) -> Iterator[_Chunk]:
    """The file's rows in chunks, each row parsed and checked (no database needed). The last
    chunk may be empty; closing this closes the file."""
    try:
        while True:
            chunk = _Chunk(0, [], [], 0)
            for record in itertools.islice(records, chunk_size):
                chunk.rows += 1
                if chunk.rows % 8 == 0:
                    # let the writing thread have the GIL as soon as its database answers,
                    # not after the interpreter's 5 ms switch interval (with this, reading
                    # ahead gave 1.1-1.2x the rows a second of reading in the same thread)
                    time.sleep(0)
                if record.payload is None:
                    chunk.bad.append((record.line, record.field, record.reason, record.cells))
                    continue
                try:
                    chunk.good.append((record, contacts.clean(record.payload, region)))
                except ValidationError as exc:
                    name, message = exc.first()
                    chunk.bad.append((record.line, name, message, record.cells))
            chunk.bytes_read = counter.count
            yield chunk
            if chunk.rows < chunk_size:
                return
    finally:
        close = getattr(records, "close", None)
        if close is not None:
            close()


def _already_clean(values: Any, region: str) -> dict[str, Any]:
    return values  # type: ignore[no-any-return]


def _store(
    db: Database,
    chunk: _Chunk,
    report: ImportReport,
    rejects: _Rejects,
    source: str,
    region: str,
    job_id: int | None,
) -> None:
    """One transaction: the chunk's members and the job's progress. Rejected rows are written
    in line order."""
    bad = list(chunk.bad)
    with db.session() as session:
        result = bulk.upsert_many(
            session,
            [values for _, values in chunk.good],
            source=source,
            region=region,
            clean=_already_clean,
        )
        report.created += result.created
        report.updated += result.updated
        report.unchanged += result.unchanged
        report.bytes_read = min(chunk.bytes_read, report.size_bytes)
        for rejection in result.rejected:
            record = chunk.good[rejection.index][0]
            bad.append((record.line, rejection.field, rejection.message, record.cells))
        for line, name, reason, cells in sorted(bad, key=lambda b: b[0]):
            rejects.add(line, name, reason, cells)
        if job_id is not None:
            _progress(session, job_id, report)


def _progress(session: Session, job_id: int, report: ImportReport) -> None:
    session.execute(
        update(ImportJob)
        .where(ImportJob.id == job_id)
        .values(
            processed=report.processed,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
            rejected=report.rejected,
            bytes_read=report.bytes_read,
            size_bytes=report.size_bytes,
            rejects_path=str(report.rejects_path) if report.rejects_path else None,
            updated_at=clock.now(),
        )
    )


def create_job(
    session: Session, filename: str, stored_path: str | Path, encoding: str = "utf-8"
) -> ImportJob:
    """Record an uploaded file for import; enqueue ``herald.import_contacts(job.id)`` after the
    commit. Raises :class:`ImportFailed` for an unknown encoding."""
    csvread.check_encoding(encoding)
    job = ImportJob(
        filename=filename[:500], stored_path=str(stored_path), encoding=encoding, status="queued"
    )
    path = Path(stored_path)
    job.size_bytes = path.stat().st_size if path.exists() else None
    session.add(job)
    session.flush()
    return job


def run_job(db: Database, job_id: int, region: str = "CN") -> ImportJob | None:
    """Run one import job, keeping its status and progress in the database. A job left running
    by a crashed worker (no progress for ``STALE_AFTER``) is run again from the start: the import
    is idempotent. Returns the finished job, or None when it's unknown, finished or running."""
    now = clock.now()
    with db.session() as session:
        # claim atomically: a duplicate task finds it running; a crashed run goes stale
        claimable = or_(
            ImportJob.status == "queued",
            and_(ImportJob.status == "running", ImportJob.updated_at < now - STALE_AFTER),
        )
        claimed = session.execute(
            update(ImportJob)
            .where(ImportJob.id == job_id, claimable)
            .values(status="running", started_at=now, updated_at=now, error=None)
        )
        if not claimed.rowcount:  # type: ignore[attr-defined]
            return None
        job = session.get(ImportJob, job_id)
        assert job is not None
        path, encoding = Path(job.stored_path), job.encoding
    rejects = path.with_name(path.name + ".rejects.csv")
    try:
        report = import_file(
            db, path, encoding=encoding, rejects_path=rejects, region=region, job_id=job_id
        )
        with db.session() as session:
            job = session.get(ImportJob, job_id)
            assert job is not None
            _progress(session, job_id, report)
            session.refresh(job)
            job.status, job.total, job.finished_at = "done", report.processed, clock.now()
            job.warning = report.warning
        return job
    except ImportFailed as exc:
        error = exc.message
    except Exception as exc:  # never leave a job "running": say what went wrong
        log.exception("import job %s failed", job_id)
        error = f"the import stopped: {exc.__class__.__name__}: {exc}"
    with db.session() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None
        job.status, job.error, job.finished_at = "failed", error[:1000], clock.now()
    return job


def to_dict(job: ImportJob) -> dict[str, Any]:
    """The JSON shape of a job, for progress polling."""
    percent = 0.0
    if job.status == "done":
        percent = 100.0
    elif job.size_bytes:
        percent = round(100.0 * (job.bytes_read or 0) / job.size_bytes, 1)
    return {
        "id": job.id,
        "filename": job.filename,
        "status": job.status,
        "percent": percent,
        "total": job.total,
        "processed": job.processed,
        "created": job.created,
        "updated": job.updated,
        "unchanged": job.unchanged,
        "rejected": job.rejected,
        "error": job.error,
        "warning": job.warning,
        # whether a rejects file exists, never where: the server's paths are not the admin's
        "has_rejects": bool(job.rejects_path),
        "created_at": job.created_at.isoformat() if job.created_at else None,
        "started_at": job.started_at.isoformat() if job.started_at else None,
        "finished_at": job.finished_at.isoformat() if job.finished_at else None,
    }
