"""Journeys: one scheduler tick advancing 100,000 members whose wait is over (PostgreSQL), beside
a hand-written single UPDATE moving the same rows. The tick records each member's visit of the
next step and moves them, set-based (a few statements, whatever the number of members).
Environment: BENCH_JOURNEY_MEMBERS (100000), BENCH_JOURNEY_REPEAT (3), HERALD_TEST_DATABASE_URL.
"""

from __future__ import annotations

import os
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from sqlalchemy import text

from bench import seed
from bench.report import machine, median, write_section

MEMBERS = int(os.environ.get("BENCH_JOURNEY_MEMBERS", "100000"))
REPEAT = int(os.environ.get("BENCH_JOURNEY_REPEAT", "3"))
JOURNEY = {
    "name": "Bench",
    "entry": {"event": "cart.abandoned"},
    "steps": [
        {"id": "first", "type": "wait", "minutes": 1, "next": "second"},
        {"id": "second", "type": "wait", "minutes": 60, "next": "exit"},
    ],
}
SEED = """
INSERT INTO contacts (email, tier, points, attributes, orders_count, total_spent, created_at,
                      updated_at)
SELECT 'j' || g || '@example.com', 'new', 0, '{}', 0, 0, now(), now()
FROM generate_series(1, :n) g;
INSERT INTO journey_entries (journey_id, contact_id, step, wake_at, state, holdout, entered_at)
SELECT :journey, id, 'first', now() - interval '1 minute', 'active', false, now()
FROM contacts;
INSERT INTO journey_visits (journey_id, entry_id, step, at)
SELECT :journey, id, 'first', now() FROM journey_entries
"""


def _one(url: str, settings_dir: Path) -> tuple[float, float]:
    from zoneinfo import ZoneInfo

    from herald.core import clock
    from herald.core.db import Database
    from herald.journeys import engine, service
    from tests.conftest import make_settings, truncate_all

    database = Database(url)
    truncate_all(database)
    settings = make_settings(settings_dir, url)
    with database.session() as session:
        journey = service.create(session, JOURNEY, ZoneInfo("UTC"))
        service.activate(session, journey)
        journey_id = journey.id
    with database.engine.begin() as conn:
        for statement in SEED.split(";"):
            conn.execute(text(statement), {"n": MEMBERS, "journey": journey_id})
    with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    start = time.perf_counter()
    moved = engine.tick(database, settings, clock.now() + timedelta(seconds=1))
    tick = time.perf_counter() - start
    assert moved == MEMBERS, moved
    # the baseline: the same rows moved back and forth by one hand-written UPDATE
    start = time.perf_counter()
    with database.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE journey_entries SET step = 'first', wake_at = now() + interval '1 hour' "
                "WHERE journey_id = :j AND state = 'active' AND step = 'second'"
            ),
            {"j": journey_id},
        )
    raw = time.perf_counter() - start
    database.dispose()
    return tick, raw


def main() -> None:
    from herald.core.migrate import upgrade

    with seed.scratch_database() as url:
        upgrade(url)
        ticks, raws = [], []
        with tempfile.TemporaryDirectory() as tmp:
            for _ in range(REPEAT):
                tick, raw = _one(url, Path(tmp))
                ticks.append(tick)
                raws.append(raw)
    t, r = median(ticks), median(raws)
    body = f"""## Journeys: one tick advancing {MEMBERS:,} waiting members (PostgreSQL)

{machine()}; {REPEAT} runs, medians. Every member's wait is over; the tick records each one's
visit of the next step and moves them there (wake-up in an hour), in one transaction.

| path | median time | members/s |
|---|---|---|
| one hand-written `UPDATE` of the same rows (baseline) | {r:.2f} s | {MEMBERS / r:,.0f} |
| Herald: `journeys.engine.tick` (visits + move, set-based) | {t:.2f} s | {MEMBERS / t:,.0f} |

The tick takes **{t / r:.2f}×** the bare UPDATE's time.
"""
    write_section("journeys", body)
    print(body)


if __name__ == "__main__":
    main()
