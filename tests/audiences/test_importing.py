"""CSV import with messy real-world files: BOM, CRLF, GBK names, no header, extra columns,
quotes, a 5 MB line, an empty file; idempotent, suppression-safe, crash-safe."""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from herald.audiences import bulk, importing, suppression
from herald.audiences.models import Contact, ImportJob
from herald.cli import main
from herald.core.db import Database

HEADER = (
    "external_id,email,first_name,tier,points,birthday,timezone,attributes.city,consent.email,notes"
)


def _write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.write_bytes(text.encode(encoding))
    return path


def _contacts(db: Database) -> dict[str, Contact]:
    with db.session() as session:
        return {c.external_id: c for c in session.scalars(select(Contact)) if c.external_id}


def _messy(tmp_path: Path) -> Path:
    rows = [
        HEADER,
        "s1,Ann@Example.com,Ann,gold,800,1990-05-17,Asia/Shanghai,Hangzhou,yes,whatever",
        's2,bob@example.com,"Bob, Jr.",silver,10,,,"Hang\r\nzhou",no,',
        "s3,not-an-email,Cat,new,0,,,,,",
        "s4,dan@example.com,Dan,diamond,0,,,,,",
        "",
        "s5,eve@example.com,Eve,new,0,,Mars/Olympus,,,",
        "s6,fay@example.com,Fay,new,abc,,,,,",
        "s7,gil@example.com,Gil,new,1,,,10,maybe,",
        "s8,hal@example.com,Hal,new,1,,,,,,,extra",
    ]
    return _write(tmp_path / "members.csv", "\ufeff" + "\r\n".join(rows) + "\r\n")


def test_a_messy_file_keeps_good_rows_and_lists_bad_ones(db: Database, tmp_path: Path) -> None:
    report = importing.import_file(db, _messy(tmp_path))
    assert (report.created, report.rejected) == (2, 6)
    assert report.warning == "ignored unknown columns: notes"
    lines = {line: (name, reason) for line, name, reason in report.rejects}
    # the quoted newline in s2 makes s3 start on line 5
    assert sorted(lines) == [5, 6, 8, 9, 10, 11]
    assert lines[5][0] == "email" and lines[6][0] == "tier" and lines[8][0] == "timezone"
    assert lines[9][0] == "points" and lines[10][0] == "consent.email"
    assert "cells" in lines[11][1]
    stored = _contacts(db)
    assert stored["s1"].email == "ann@example.com" and stored["s1"].consent_for("email")
    assert stored["s1"].attributes == {"city": "Hangzhou"}
    assert (
        stored["s2"].first_name == "Bob, Jr." and stored["s2"].attributes["city"] == "Hang\r\nzhou"
    )
    with open(report.rejects_path, encoding="utf-8-sig", newline="") as f:  # type: ignore[arg-type]
        rows = list(csv.reader(f))
    assert rows[0][:3] == ["line", "field", "reason"] and len(rows) == 7
    assert rows[1][0] == "5" and rows[1][3] == "s3"


def test_reimporting_the_same_file_changes_nothing(db: Database, tmp_path: Path) -> None:
    path = _messy(tmp_path)
    importing.import_file(db, path)
    with db.session() as session:
        before = {c.id: c.updated_at for c in session.scalars(select(Contact))}
    again = importing.import_file(db, path)
    assert (again.created, again.updated, again.unchanged) == (0, 0, 2)
    with db.session() as session:
        assert {c.id: c.updated_at for c in session.scalars(select(Contact))} == before


def test_an_import_never_overrides_a_suppression(db: Database, tmp_path: Path) -> None:
    with db.session() as session:
        suppression.suppress(session, "email", "ann@example.com", "complaint")
    importing.import_file(db, _messy(tmp_path))
    assert not _contacts(db)["s1"].consent_for("email")


def test_gbk_files_need_and_honour_the_encoding_option(db: Database, tmp_path: Path) -> None:
    text = (
        "external_id,email,first_name,last_name\r\n"
        "g1,li@example.cn,雷,李\r\ng2,han@example.cn,梅梅,韩\r\n"
    )
    path = _write(tmp_path / "gbk.csv", text, "gbk")
    wrong = importing.import_file(db, path)  # read as UTF-8: each row is rejected, named
    assert wrong.rejected == 2 and "not valid utf-8" in wrong.rejects[0][2]
    right = importing.import_file(db, path, encoding="gbk")
    assert right.created == 2
    assert _contacts(db)["g1"].first_name == "雷"


def test_a_five_megabyte_line_is_rejected_not_fatal(db: Database, tmp_path: Path) -> None:
    huge = "x" * (5 * 1024 * 1024)
    path = _write(tmp_path / "big.csv", f"external_id,first_name\na1,{huge}\na2,Ann\n")
    report = importing.import_file(db, path)
    assert (report.created, report.rejected) == (1, 1)
    assert "characters long" in report.rejects[0][2]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("", "empty"),
        ("ann@example.com,Ann\nbob@example.com,Bob\n", "header"),
        ("first_name,tier\nAnn,gold\n", "external_id or an email"),
    ],
)
def test_unreadable_files_fail_with_one_clear_line(
    db: Database, tmp_path: Path, text: str, message: str
) -> None:
    path = _write(tmp_path / "bad.csv", text)
    with pytest.raises(importing.ImportFailed) as caught:
        importing.import_file(db, path)
    assert message in caught.value.message


def test_a_crash_leaves_whole_chunks_and_a_rerun_finishes(
    db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    lines = ["external_id,email"] + [f"k{i},k{i}@example.com" for i in range(10)]
    path = _write(tmp_path / "ten.csv", "\n".join(lines) + "\n")
    real = bulk.upsert_many
    calls = {"n": 0}

    def flaky(*args: Any, **kwargs: Any) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker killed")
        return real(*args, **kwargs)

    monkeypatch.setattr(bulk, "upsert_many", flaky)
    with pytest.raises(RuntimeError):
        importing.import_file(db, path, chunk_size=3)
    assert len(_contacts(db)) == 6
    monkeypatch.setattr(bulk, "upsert_many", real)
    report = importing.import_file(db, path, chunk_size=3)
    assert (report.created, report.unchanged) == (4, 6)
    assert len(_contacts(db)) == 10


def test_a_job_records_progress_for_the_admin(db: Database, tmp_path: Path) -> None:
    path = _messy(tmp_path)
    with db.session() as session:
        job_id = importing.create_job(session, "members.csv", path).id
    job = importing.run_job(db, job_id)
    assert job is not None and job.status == "done"
    assert (job.total, job.created, job.rejected) == (8, 2, 6)
    assert importing.to_dict(job)["percent"] == 100.0
    assert importing.run_job(db, job_id) is None  # finished jobs are not run twice
    with db.session() as session:
        failed_id = importing.create_job(session, "x.csv", tmp_path / "missing.csv").id
    failed = importing.run_job(db, failed_id)
    assert failed is not None and failed.status == "failed" and "can't open" in failed.error


def test_the_cli_shows_a_summary_and_exits_zero_with_rejects(
    db: Database, tmp_path: Path, database_url: str
) -> None:
    env = {
        "HERALD_DATABASE_URL": database_url,
        "HERALD_INSTANCE_PATH": str(tmp_path / "instance"),
        "HERALD_SECRET_KEY": "k",
        "HERALD_BROKER_URL": "memory://",
    }
    rejects = tmp_path / "rejects.csv"
    runner = CliRunner()
    done = runner.invoke(
        main, ["contacts", "import", str(_messy(tmp_path)), "--rejects", str(rejects)], env=env
    )
    assert done.exit_code == 0, done.output
    assert "2 created" in done.output and "6 rejected" in done.output
    assert "line 5: email:" in done.output and rejects.exists()
    empty = _write(tmp_path / "empty.csv", "")
    failed = runner.invoke(main, ["contacts", "import", str(empty)], env=env)
    assert failed.exit_code != 0 and "empty" in failed.output
    with db.session() as session:
        assert session.scalar(select(func.count()).select_from(ImportJob)) == 0


def test_the_celery_task_runs_a_queued_job(db: Database, tmp_path: Path, settings: Any) -> None:
    from herald.workers import context, tasks

    with db.session() as session:
        job_id = importing.create_job(session, "members.csv", _messy(tmp_path)).id
    context.reset(settings)
    try:
        assert tasks.import_contacts.run(job_id) == {"job_id": job_id, "status": "done"}
        assert tasks.import_contacts.run(job_id)["status"] == "skipped"
    finally:
        context.reset()
    with db.session() as session:
        job = session.get(ImportJob, job_id)
        assert job is not None and (job.created, job.rejected) == (2, 6)
        assert job.rejects_path and Path(job.rejects_path).exists()
