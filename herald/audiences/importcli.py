"""The terminal face of the CSV import: a rich progress bar and a summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TextColumn,
    TimeRemainingColumn,
)

from herald.audiences.importing import ImportReport, import_file
from herald.core.db import Database
from herald.core.settings import Settings


def run_import(
    db: Database, settings: Settings, file: str, rejects: str | None, encoding: str
) -> ImportReport:
    """Import ``file`` showing progress; prints the summary with each rejected row's line and
    reason (the first 100; all of them are in the rejects file). Raises
    :class:`~herald.audiences.importing.ImportFailed` when the file can't be read."""
    out = Console(highlight=False)
    err = Console(stderr=True, highlight=False)
    columns = (
        TextColumn("[bold]importing"),
        BarColumn(),
        DownloadColumn(),
        TextColumn("{task.fields[rows]:,} rows"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        size = Path(file).stat().st_size if Path(file).is_file() else 0
        task = progress.add_task("import", total=size or None, rows=0)

        def show(report: ImportReport) -> None:
            progress.update(task, completed=report.bytes_read, rows=report.processed)

        report = import_file(
            db,
            file,
            encoding=encoding,
            rejects_path=rejects,
            region=settings.default_phone_region,
            progress=show,
        )
    if report.warning:
        err.print(f"warning: {report.warning}")
    out.print(
        f"{report.processed:,} rows read: {report.created:,} created, {report.updated:,} "
        f"updated, {report.unchanged:,} unchanged, {report.rejected:,} rejected"
    )
    for line, name, reason in report.rejects:
        out.print(f"  line {line}: {name + ': ' if name else ''}{reason}")
    if report.rejected > len(report.rejects):
        out.print(f"  … and {report.rejected - len(report.rejects):,} more")
    if report.rejects_path:
        out.print(f"rejected rows written to {report.rejects_path}")
    return report
