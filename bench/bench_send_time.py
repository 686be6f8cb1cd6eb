"""Send time: recomputing every member's best hour (``herald.audiences.send_time.recompute``)
over 200,000 members and 2,000,000 events on PostgreSQL, beside a hand-written SQL baseline of
the same result (``AT TIME ZONE`` and ``DISTINCT ON``, which only PostgreSQL has and which trusts
every stored zone name). Each run starts from every best hour cleared (not timed) and writes them
all; a second column times a run with nothing to change (the hourly steady state).

Environment: BENCH_SENDTIME_MEMBERS (200000), BENCH_SENDTIME_EVENTS (2000000), BENCH_REPEAT (5),
HERALD_TEST_DATABASE_URL (server).
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import text

from bench import seed
from bench.report import command, machine, median, timed, write_section

MEMBERS = int(os.environ.get("BENCH_SENDTIME_MEMBERS", "200000"))
EVENTS = int(os.environ.get("BENCH_SENDTIME_EVENTS", "2000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "5"))
ZONES = [
    "Asia/Shanghai",
    "Asia/Tokyo",
    "Asia/Kolkata",
    "Europe/Berlin",
    "Europe/London",
    "America/New_York",
    "America/Los_Angeles",
    "Australia/Sydney",
]

SEED = f"""
INSERT INTO contacts (email, tier, points, attributes, orders_count, total_spent, created_at,
                      updated_at, timezone)
SELECT 'm' || g || '@shop.example.cn', 'new', 0, '{{}}', 0, 0, now(), now(),
       CASE WHEN g % 10 = 0 THEN NULL
            ELSE (ARRAY[{", ".join(f"'{z}'" for z in ZONES)}])[1 + g % {len(ZONES)}] END
FROM generate_series(1, :members) AS g;
SELECT setseed(0.42);
INSERT INTO events (contact_id, type, occurred_at, machine, data)
SELECT c, kind,
       date_trunc('day', now()) - floor(random() * 100) * interval '1 day'
         + (CASE WHEN random() < 0.4 THEN c % 24 ELSE floor(random() * 24) END)
           * interval '1 hour'
         + floor(random() * 3600) * interval '1 second',
       random() < 0.1, '{{}}'
FROM (SELECT 1 + CAST(floor(random() * :members) AS INT) AS c,
             (ARRAY['email.opened', 'email.opened', 'email.clicked', 'order.placed'])
               [1 + CAST(floor(random() * 4) AS INT)] AS kind
      FROM generate_series(1, :events)) AS drawn
"""

BASELINE = """
UPDATE contacts AS c SET best_hour = b.hour
FROM (
  SELECT DISTINCT ON (contact_id) contact_id, hour FROM (
    SELECT e.contact_id,
           CAST(EXTRACT(HOUR FROM e.occurred_at AT TIME ZONE COALESCE(m.timezone, 'UTC')) AS INT)
             AS hour,
           count(*) AS n
    FROM events AS e JOIN contacts AS m ON m.id = e.contact_id
    WHERE e.type IN ('email.opened', 'email.clicked', 'sms.clicked') AND NOT e.machine
      AND e.occurred_at >= :since AND e.occurred_at <= :now AND m.erased_at IS NULL
    GROUP BY 1, 2
  ) AS counted
  ORDER BY contact_id, n DESC, hour
) AS b
WHERE c.id = b.contact_id AND c.best_hour IS DISTINCT FROM b.hour
"""

CHECKSUM = "SELECT count(best_hour), coalesce(sum(best_hour * (id % 97)), 0) FROM contacts"


def main() -> None:
    from datetime import timedelta

    from herald.audiences import send_time
    from herald.core.db import Database
    from herald.core.migrate import upgrade

    utc = ZoneInfo("UTC")
    with seed.scratch_database() as url:
        upgrade(url)
        database = Database(url)
        start = time.perf_counter()
        with database.engine.begin() as conn:
            for statement in SEED.split(";"):
                if statement.strip():
                    conn.execute(text(statement), {"members": MEMBERS, "events": EVENTS})
        with database.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
            conn.execute(text("VACUUM ANALYZE"))
        seeded = time.perf_counter() - start
        now = datetime.now(UTC)

        def clear() -> None:
            with database.engine.begin() as conn:
                conn.execute(text("UPDATE contacts SET best_hour = NULL"))

        def herald() -> Any:
            with database.session() as session:
                return send_time.recompute(session, utc, now)

        def baseline() -> Any:
            with database.engine.begin() as conn:
                since = now - timedelta(days=send_time.WINDOW_DAYS)
                return conn.execute(text(BASELINE), {"since": since, "now": now}).rowcount

        def checksum() -> tuple[int, int]:
            with database.engine.connect() as conn:
                return tuple(conn.execute(text(CHECKSUM)).one())  # type: ignore[return-value]

        results: dict[str, Any] = {}
        for label, fn in (("herald", herald), ("baseline", baseline)):
            full: list[float] = []
            for _ in range(REPEAT):
                clear()
                full += timed(fn, 1)
            results[label] = {
                "full": median(full),
                "steady": median(timed(fn, REPEAT)),
                "checksum": checksum(),
            }
        database.dispose()
    print(f"send time: {results} (seeded in {seeded:.1f}s)", flush=True)
    h, b = results["herald"], results["baseline"]
    same = "the same" if h["checksum"] == b["checksum"] else "DIFFERENT"
    body = f"""
## Send time: every member's best hour over {EVENTS:,} events (PostgreSQL)

{machine()}; `{command()}`.

{MEMBERS:,} members in {len(ZONES)} zones (a tenth without one) and {EVENTS:,} events over 100
days (opens, clicks, orders; a tenth machine opens), seeded with INSERT … SELECT
generate_series in {seeded:.0f} s, then VACUUM ANALYZE. Herald's `send_time.recompute` works out
each zone's offsets in Python and joins them as a small VALUES table (portable to SQLite, and a
zone name PostgreSQL does not know falls back to the shop's zone); the baseline is hand-written
PostgreSQL with `AT TIME ZONE` and `DISTINCT ON`. "All written": every best hour cleared before
each run (not timed); "nothing to change": the hourly steady state. Medians of {REPEAT} runs.

| path | all written | nothing to change | members with a best hour |
|---|---|---|---|
| Herald `send_time.recompute` | {h["full"]:.2f} s | {h["steady"]:.2f} s | {h["checksum"][0]:,} |
| hand-written SQL (baseline) | {b["full"]:.2f} s | {b["steady"]:.2f} s | {b["checksum"][0]:,} |

Herald takes **{h["full"] / b["full"]:.2f}×** the baseline's time and writes {same} best hours.
The machine is shared with other test runs, so the absolute times vary from run to run; the
ratio, measured in the same run, is the figure to compare.
"""
    write_section("send_time", body)


if __name__ == "__main__":
    main()
