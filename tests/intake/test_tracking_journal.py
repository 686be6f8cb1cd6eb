"""The tracking journal (herald.core.journal, herald.intake.tracking_journal): a pixel or click
appends one line; the drainer records the lines exactly once, through a lost position, a dead
process, a database away and a torn or malformed line."""

from __future__ import annotations

import multiprocessing
import os
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, func, select
from sqlalchemy.exc import OperationalError

from herald.audiences.models import Event
from herald.core import clock, journal
from herald.core.journal import JournalPosition
from herald.intake.tracking_journal import TrackingJournal, encode
from tests.web.test_tracking import HUMAN, sent  # noqa: F401 - the fixture


def _journal(db, directory: Path) -> TrackingJournal:
    return TrackingJournal(directory, db.engine, window=timedelta(0), zone=UTC, interval=3600)


def _count(db, kind: str | None = None) -> int:
    with db.session() as session:
        query = select(func.count()).select_from(Event)
        if kind is not None:
            query = query.where(Event.type == kind)
        return int(session.scalar(query))


def _positions(db) -> dict[str, int]:
    with db.session() as session:
        return dict(session.execute(select(JournalPosition.name, JournalPosition.position)).all())


def _append(tracking: TrackingJournal, delivery_id: int, n: int, kind: str = "email.opened"):
    # the writing half only: no drainer thread, the test drains by hand
    for i in range(n):
        data = {"user_agent": HUMAN, "n": i}
        tracking.journal.append(encode(kind, delivery_id, clock.now(), False, data))


def test_lines_are_recorded_once_with_the_moment_of_the_request(db, sent, tmp_path):  # noqa: F811
    tracking = _journal(db, tmp_path / "j")
    delivery_id = sent["delivery"].id
    before = _count(db)
    at = clock.now()
    tracking.journal.append(encode("email.clicked", delivery_id, at, False, {"url": "https://x"}))
    _append(tracking, delivery_id, 40)
    assert _count(db) == before  # appended, not yet recorded
    clock.shift(timedelta(minutes=5))
    assert tracking.drain() == 41
    assert tracking.drain() == 0
    assert _count(db, "email.opened") == 40 and _count(db, "email.clicked") == 1
    with db.session() as session:
        click = session.scalars(select(Event).where(Event.type == "email.clicked")).one()
    assert click.occurred_at == at and click.data == {"url": "https://x"}
    [(name, position)] = _positions(db).items()
    assert position == (tmp_path / "j" / name).stat().st_size
    assert tracking.journal.pending_bytes() == 0


def test_a_forgotten_position_is_read_back_and_nothing_is_recorded_twice(db, sent, tmp_path):  # noqa: F811
    tracking = _journal(db, tmp_path / "j")
    delivery_id = sent["delivery"].id
    _append(tracking, delivery_id, 10)
    assert tracking.drain() == 10
    own = tracking.journal._own
    assert own is not None
    own.position = 0  # as if the process had lost what it committed (a stale copy)
    _append(tracking, delivery_id, 5)
    assert tracking.drain() == 5
    own.position = None  # as if the commit's answer had been lost
    assert tracking.drain() == 0
    assert _count(db, "email.opened") == 15


def _dead_writer(directory: str, delivery_id: int, n: int, kill: bool) -> None:
    tracking = TrackingJournal(
        Path(directory), create_engine("sqlite://"), window=timedelta(0), zone=UTC
    )
    for i in range(n):
        tracking.journal.append(encode("email.opened", delivery_id, clock.now(), False, {"i": i}))
    if kill:
        os.kill(os.getpid(), signal.SIGKILL)
    os._exit(0)


def _leave_orphan(directory: Path, delivery_id: int, n: int, kill: bool) -> None:
    """A process appends ``n`` opens to its journal in ``directory`` and dies undrained."""
    child = multiprocessing.get_context("spawn").Process(
        target=_dead_writer, args=(str(directory), delivery_id, n, kill)
    )
    child.start()
    child.join(60)


@contextmanager
def _database_away(tracking: TrackingJournal) -> Iterator[None]:
    """Inside the block the journal's database refuses connections, and the block must fail
    on it; afterwards the real one is back."""
    working = tracking.engine
    tracking.engine = create_engine("postgresql+psycopg://nobody@127.0.0.1:1/none")
    try:
        with pytest.raises(OperationalError):  # the driver's connection refused
            yield
    finally:
        tracking.engine = working


@pytest.mark.parametrize("kill", [True, False], ids=["killed", "exited-without-draining"])
def test_the_file_of_a_dead_process_is_adopted_and_removed(db, sent, tmp_path, kill):  # noqa: F811
    directory = tmp_path / "j"
    _leave_orphan(directory, sent["delivery"].id, 25, kill)
    [orphan] = directory.glob("*.journal")
    survivor = _journal(db, directory)
    assert survivor.drain(adopt=False) == 0  # only its own file: the orphan waits
    assert survivor.drain(adopt=True) == 25
    assert _count(db, "email.opened") == 25
    assert not orphan.exists() and _positions(db) == {}
    assert survivor.drain(adopt=True) == 0


def test_a_live_process_file_is_not_adopted(db, sent, tmp_path):  # noqa: F811
    directory = tmp_path / "j"
    owner, other = _journal(db, directory), _journal(db, directory)
    _append(owner, sent["delivery"].id, 3)
    assert other.drain(adopt=True) == 0  # the owner holds its lock
    assert owner.drain() == 3


def test_lines_wait_in_the_file_while_the_database_is_away(db, sent, tmp_path):  # noqa: F811
    tracking = _journal(db, tmp_path / "j")
    _append(tracking, sent["delivery"].id, 7)
    with _database_away(tracking):
        tracking.drain()
    assert _count(db, "email.opened") == 0
    assert tracking.drain() == 7
    assert _count(db, "email.opened") == 7


def test_a_malformed_line_or_an_unknown_delivery_is_skipped_and_the_rest_recorded(
    db,
    sent,  # noqa: F811
    tmp_path,
    caplog,
):
    tracking = _journal(db, tmp_path / "j")
    delivery_id = sent["delivery"].id
    _append(tracking, delivery_id, 2)
    tracking.journal.append(b'{"k":"o","d":"not a number"}')
    tracking.journal.append(b"garbage")
    _append(tracking, delivery_id + 999, 1)  # no such delivery
    _append(tracking, delivery_id, 3)
    assert tracking.drain() == 8  # every line taken from the file, five of them recorded
    assert _count(db, "email.opened") == 5
    assert "not a tracking record" in caplog.text
    assert tracking.drain() == 0


def test_a_large_file_is_replaced_once_drained(db, sent, tmp_path, monkeypatch):  # noqa: F811
    monkeypatch.setattr(journal, "ROTATE_BYTES", 1000)
    directory = tmp_path / "j"
    tracking = _journal(db, directory)
    _append(tracking, sent["delivery"].id, 30)
    first = tracking.journal._own.path  # type: ignore[union-attr]
    assert tracking.drain() == 30
    [now] = directory.glob("*.journal")
    assert now != first and not first.exists()
    assert first.name not in _positions(db)
    _append(tracking, sent["delivery"].id, 4)
    assert tracking.drain() == 4
    assert _count(db, "email.opened") == 34


def test_the_drainer_thread_records_a_pixel_request_by_itself(
    db,
    sent,  # noqa: F811
    tmp_path,
    database_url,
):
    from herald.web.app import create_app
    from tests.conftest import make_settings

    settings = make_settings(tmp_path, database_url, tracking_journal=str(tmp_path / "web-j"))
    app = create_app(settings, db)
    tracking = app.extensions["herald.tracking_journal"]
    tracking.interval = 0.05
    clock.shift(timedelta(minutes=10))
    answer = app.test_client().get(sent["pixel"], headers={"User-Agent": HUMAN})
    assert answer.status_code == 200
    import time

    deadline = time.monotonic() + 10
    while _count(db, "email.opened") == 0 and time.monotonic() < deadline:
        time.sleep(0.05)
    tracking.stop()
    with db.session() as session:
        [event] = session.scalars(select(Event).where(Event.type == "email.opened")).all()
    assert event.delivery_id == sent["delivery"].id and event.machine is False


def test_a_journey_entered_on_a_click_hears_a_journaled_click_and_no_machine_one(
    db,
    sent,  # noqa: F811
    tmp_path,
    client,
    auth,
):
    body = {
        "name": "Clicked the sale",
        "entry": {"event": "email.clicked"},
        "re_entry": "never",
        "holdout": 0,
        "steps": [{"id": "rest", "type": "wait", "minutes": 60, "next": "exit"}],
    }
    created = client.post("/api/v1/journeys", json=body, headers=auth)
    assert created.status_code == 201, created.json
    journey = created.json
    assert (
        client.post(f"/api/v1/journeys/{journey['id']}/activate", headers=auth).status_code == 200
    )
    tracking = _journal(db, tmp_path / "j")
    delivery_id = sent["delivery"].id
    clock.shift(timedelta(minutes=10))
    data = {"url": "https://shop.example/sale"}
    tracking.journal.append(encode("email.clicked", delivery_id, clock.now(), True, data))
    _append(tracking, delivery_id, 2)  # opens: no journey hears them, one batch
    tracking.journal.append(encode("email.clicked", delivery_id, clock.now(), False, data))
    assert tracking.drain() == 4
    stats = client.get(f"/api/v1/journeys/{journey['id']}/stats", headers=auth).json
    assert stats["entered"] == 1, stats  # the person's click, not the scanner's
    assert _count(db, "email.clicked") == 2 and _count(db, "email.opened") == 2


def test_a_dead_process_file_is_adopted_again_after_the_database_came_back(db, sent, tmp_path):  # noqa: F811
    directory = tmp_path / "j"
    _leave_orphan(directory, sent["delivery"].id, 12, kill=True)
    survivor = _journal(db, directory)
    with _database_away(survivor):
        survivor.drain(adopt=True)
    assert survivor.drain(adopt=True) == 12  # the failed adoption let go of the file's lock
    assert _count(db, "email.opened") == 12 and not list(directory.glob("*.journal"))
