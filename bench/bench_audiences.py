"""Audiences on PostgreSQL: CSV import of 200,000 members and three segment counts over
1,000,000 members, each beside a baseline measured in the same run.

Baselines: for the import, a plain ``csv.reader`` pass over the same file and a hand-written
``COPY`` of the same rows into the same schema (no checks); for segments, a hand-written SQL
count of the same condition. Environment: BENCH_IMPORT_ROWS (200000), BENCH_MEMBERS (1000000),
BENCH_REPEAT (5, segment counts), BENCH_IMPORT_REPEAT (3), HERALD_TEST_DATABASE_URL (server).
"""

from __future__ import annotations

import csv
import json
import os
import random
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import text
from sqlalchemy.engine import make_url

from bench import seed
from bench.report import command, machine, median, timed, write_section

ROWS = int(os.environ.get("BENCH_IMPORT_ROWS", "200000"))
MEMBERS = int(os.environ.get("BENCH_MEMBERS", "1000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
IMPORT_REPEAT = int(os.environ.get("BENCH_IMPORT_REPEAT", "3"))
HEADER = ["external_id", "email", "first_name", "tier", "points", "birthday", "timezone"]
HEADER += ["attributes.city", "consent.email"]
TIERS = ["new", "bronze", "silver", "gold", "platinum"]
CITIES = ["Hangzhou", "Shanghai", "Beijing", "Shenzhen", "Chengdu"]


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(7)
    with open(path, "w", newline="", encoding="utf-8") as f:
        out = csv.writer(f)
        out.writerow(HEADER)
        for i in range(rows):
            birthday = (
                f"19{rng.randrange(50, 99)}-{rng.randrange(1, 13):02d}-{rng.randrange(1, 29):02d}"
            )
            out.writerow(
                [
                    f"x{i}",
                    f"m{i}@shop.example.cn",
                    f"Name{i}",
                    rng.choice(TIERS),
                    rng.randrange(2000),
                    birthday,
                    "Asia/Shanghai",
                    rng.choice(CITIES),
                    rng.choice(["yes", "no"]),
                ]
            )


def csv_read(path: Path) -> None:
    with open(path, newline="", encoding="utf-8") as f:
        for _ in csv.reader(f):
            pass


def raw_copy(url: str, csv_path: Path) -> None:
    """The raw baseline: the same rows by hand-written COPY, no checks, no consent rows, one
    commit: the fastest a loader can put them into the same schema."""
    import psycopg

    now = datetime.now(UTC)
    columns = "external_id, email, first_name, tier, points, birthday, timezone, attributes"
    with (
        psycopg.connect(_driver_url(url)) as conn,
        conn.cursor() as cursor,
        open(csv_path, newline="", encoding="utf-8") as f,
    ):
        reader = csv.reader(f)
        next(reader)
        statement = f"COPY contacts ({columns}, created_at, updated_at) FROM STDIN"
        with cursor.copy(statement) as out:
            for r in reader:
                city = json.dumps({"city": r[7]})
                out.write_row((r[0], r[1], r[2], r[3], int(r[4]), r[5], r[6], city, now, now))


def _driver_url(url: str) -> str:
    return make_url(url).set(drivername="postgresql").render_as_string(hide_password=False)


def bench_import(tmp: Path) -> dict[str, Any]:
    from herald.audiences.importing import import_file
    from herald.core.db import Database
    from herald.core.migrate import upgrade

    csv_path = tmp / "members.csv"
    write_csv(csv_path, ROWS)
    read_times = timed(lambda: csv_read(csv_path), 3)
    raw_times, fresh_times, rerun_times = [], [], []
    with seed.scratch_database() as template_url:
        upgrade(template_url)
        template = make_url(template_url).database
        for _ in range(IMPORT_REPEAT):
            with seed.scratch_database(template) as url:
                raw_times += timed(lambda u=url: raw_copy(u, csv_path), 1)
            with seed.scratch_database(template) as url:
                database = Database(url)
                start = time.perf_counter()
                first = import_file(database, csv_path)
                fresh_times.append(time.perf_counter() - start)
                start = time.perf_counter()
                again = import_file(database, csv_path)
                rerun_times.append(time.perf_counter() - start)
                database.dispose()
            assert first.created == ROWS and again.unchanged == ROWS, (first, again)
    return {
        "read": median(read_times),
        "raw": median(raw_times),
        "fresh": median(fresh_times),
        "rerun": median(rerun_times),
        "size": csv_path.stat().st_size,
    }


SEGMENTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "gold or platinum with more than 500 points",
        {
            "all": [
                {"field": "tier", "op": "in", "value": ["gold", "platinum"]},
                {"field": "points", "op": "gt", "value": 500},
            ]
        },
        "SELECT count(*) FROM contacts WHERE erased_at IS NULL "
        "AND tier IN ('gold', 'platinum') AND points > 500",
    ),
    (
        "city Hangzhou, email consent, not an @example.com address",
        {
            "all": [
                {"field": "attributes.city", "op": "eq", "value": "Hangzhou"},
                {"field": "consent.email", "op": "eq", "value": True},
                {"not": {"field": "email", "op": "ends_with", "value": "@example.com"}},
            ]
        },
        "SELECT count(*) FROM contacts c WHERE erased_at IS NULL "
        "AND attributes ->> 'city' = 'Hangzhou' AND EXISTS (SELECT 1 FROM consents s "
        "WHERE s.contact_id = c.id AND s.channel = 'email' AND s.granted) "
        "AND email NOT ILIKE '%@example.com'",
    ),
    (
        "silver or above, ordered in the last 30 days, birthday within 7 days",
        {
            "all": [
                {"field": "tier", "op": "gte", "value": "silver"},
                {"event": "order.placed", "within_days": 30},
                {"field": "birthday", "op": "birthday_within_days", "value": 7},
            ]
        },
        "SELECT count(*) FROM contacts c WHERE erased_at IS NULL "
        "AND tier IN ('silver', 'gold', 'platinum') AND EXISTS (SELECT 1 FROM events e "
        "WHERE e.contact_id = c.id AND e.type = 'order.placed' "
        "AND e.occurred_at >= now() - interval '30 days' AND e.occurred_at <= now()) "
        "AND to_char(birthday, 'MM-DD') IN ({keys})",
    ),
]

SEED = """
INSERT INTO contacts (external_id, email, first_name, tier, points, birthday, timezone, attributes,
                      orders_count, total_spent, last_order_at, created_at, updated_at)
SELECT 'b' || g,
       'm' || g || CASE WHEN g % 10 = 0 THEN '@example.com' ELSE '@shop.cn' END,
       'Name' || g,
       (ARRAY['new', 'bronze', 'silver', 'gold', 'platinum'])[1 + (g * 7919) % 5],
       (g * 104729) % 2000,
       DATE '1960-01-01' + ((g * 31337) % 15000)::int,
       CASE g % 3 WHEN 0 THEN 'America/Los_Angeles' WHEN 1 THEN 'Asia/Shanghai' END,
       jsonb_build_object('city', (ARRAY['Hangzhou', 'Shanghai', 'Beijing', 'Shenzhen',
                                         'Chengdu'])[1 + (g * 13) % 5], 'age', 18 + g % 60),
       g % 7, (g % 500)::numeric, now() - ((g % 400) || ' days')::interval, now(), now()
FROM generate_series(1::bigint, :n) AS g;
INSERT INTO consents (contact_id, channel, granted, source, updated_at)
SELECT id, 'email', id % 4 <> 0, 'bench', now() FROM contacts;
INSERT INTO events (contact_id, type, occurred_at, machine, data)
SELECT id, 'order.placed', now() - ((id * 17 % 90) || ' days')::interval, false, '{}'::jsonb
FROM contacts WHERE id % 3 = 0;
"""


def bench_segments() -> tuple[list[dict[str, Any]], float]:
    from herald.audiences import segments
    from herald.audiences.sqlfuncs import birthday_keys
    from herald.core.db import Database
    from herald.core.migrate import upgrade

    with seed.scratch_database() as url:
        upgrade(url)
        database = Database(url)
        start = time.perf_counter()
        with database.engine.begin() as conn:
            for statement in SEED.split(";"):
                if statement.strip():
                    conn.execute(text(statement), {"n": MEMBERS})
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        seeded = time.perf_counter() - start
        keys = ", ".join(f"'{k}'" for k in birthday_keys(datetime.now(UTC).date(), 7))
        results = []
        for label, rules, raw_sql in SEGMENTS:
            raw_sql = raw_sql.format(keys=keys)
            with database.session() as session:
                herald_count = segments.count(session, rules)
                raw_count = session.scalar(text(raw_sql))
                herald_times = timed(lambda r=rules: segments.count(session, r), REPEAT)
                raw_times = timed(lambda q=raw_sql: session.scalar(text(q)), REPEAT)
            results.append(
                {
                    "label": label,
                    "herald": median(herald_times),
                    "raw": median(raw_times),
                    "count": herald_count,
                    "raw_count": raw_count,
                }
            )
        database.dispose()
        return results, seeded


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        imported = bench_import(Path(tmp))
    print(f"import: {imported}", flush=True)
    counted, seeded = bench_segments()
    print(f"segments: {counted} (seeded in {seeded:.1f}s)", flush=True)
    rows = [
        f"| plain `csv.reader` pass (baseline) | {imported['read']:.2f} s | "
        f"{ROWS / imported['read']:,.0f} | 1.0× |",
        f"| hand-written `COPY`, no checks (baseline) | {imported['raw']:.2f} s | "
        f"{ROWS / imported['raw']:,.0f} | {imported['raw'] / imported['read']:.1f}× |",
        f"| Herald import, new members | {imported['fresh']:.2f} s | "
        f"{ROWS / imported['fresh']:,.0f} | {imported['fresh'] / imported['read']:.1f}× |",
        f"| Herald import, same file again (all unchanged) | {imported['rerun']:.2f} s | "
        f"{ROWS / imported['rerun']:,.0f} | {imported['rerun'] / imported['read']:.1f}× |",
    ]
    seg_rows = [
        f"| {r['label']} | {r['count']:,} | {r['herald'] * 1000:.0f} ms | "
        f"{r['raw'] * 1000:.0f} ms ({r['raw_count']:,}) | {r['herald'] / r['raw']:.2f}× |"
        for r in counted
    ]
    body = f"""
## Audiences: CSV import and segment counts

{machine()}; `{command()}`.

**Import of {ROWS:,} CSV rows** ({imported["size"] / 1e6:.1f} MB) into PostgreSQL, chunks of
1,000 rows, one transaction each. Herald checks every row (email-validator, IANA zone, tier),
looks members up by external_id/email, honours suppressions and writes consent rows. Medians
of {IMPORT_REPEAT} runs, each into a fresh copy of the migrated database.

| path | time | rows/s | × the csv read |
|---|---|---|---|
{chr(10).join(rows)}

Herald's first import runs at **{ROWS / imported["fresh"]:,.0f} rows/s**,
**{imported["fresh"] / imported["raw"]:.1f}×** the hand-written COPY's time.

**Segment counts over {MEMBERS:,} members on PostgreSQL** (with {MEMBERS // 3:,} order events
and {MEMBERS:,} consent rows; seeded with INSERT … SELECT generate_series in {seeded:.0f} s,
then VACUUM ANALYZE). Herald compiles the rules to one query (`segments.count`); the baseline is
the hand-written SQL count of the same condition (its birthday test ignores members' zones).
Medians of {REPEAT} runs.

| segment | members | Herald | hand-written SQL (its count) | ratio |
|---|---|---|---|---|
{chr(10).join(seg_rows)}

Every Herald count stays {"under" if all(r["herald"] < 1 for r in counted) else "OVER"} one
second.
"""
    write_section("audiences", body)


if __name__ == "__main__":
    main()
