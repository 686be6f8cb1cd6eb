"""The weekly report over many events: 10,000,000 tracking events (BENCH_REPORT_EVENTS) across
20 campaigns, each with a run this week and one the week before (50,000 members a run, so
2,000,000 ledger rows), seeded with ``generate_series`` in PostgreSQL. Timed: building the report
exactly as ``GET /reports/weekly`` does, beside a hand-written SQL aggregate of the same event
counts per campaign (the floor: one pass over the events), medians of BENCH_REPEAT (3) runs.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from bench import seed
from bench.report import command, machine, median, write_section
from bench.stack import Stack

EVENTS = int(os.environ.get("BENCH_REPORT_EVENTS", "10000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
CAMPAIGNS = 20

FLOOR = """
SELECT d.run_id,
       count(DISTINCT e.delivery_id) FILTER (WHERE e.type = 'email.opened' AND NOT e.machine),
       count(DISTINCT e.delivery_id) FILTER (WHERE e.type = 'email.clicked' AND NOT e.machine),
       count(*) FILTER (WHERE e.type = 'email.opened' AND NOT e.machine),
       count(*) FILTER (WHERE e.type = 'email.clicked' AND NOT e.machine)
FROM events e JOIN deliveries d ON d.id = e.delivery_id
JOIN runs r ON r.id = d.run_id
WHERE r.started_at >= :start AND r.started_at < :end
GROUP BY d.run_id
"""


def seed_week(stack: Stack, events: int, members: int) -> tuple[datetime, datetime]:
    """Campaigns, runs in two weeks, their ledgers and ``events`` events; returns the report
    week's (start, end)."""
    from herald.campaigns import service
    from herald.core.db import Database
    from tests.helpers import email_campaign

    seed.members(stack.sql, members)
    db = Database(stack.url)
    with db.session() as session:
        for i in range(CAMPAIGNS):
            service.create_campaign(session, email_campaign(name=f"Campaign {i}"), ZoneInfo("UTC"))
    db.dispose()
    today = datetime.now(UTC).date()
    this_monday = today - timedelta(days=today.weekday())
    start = datetime.combine(this_monday - timedelta(days=7), datetime.min.time(), UTC)
    end = start + timedelta(days=7)
    stack.sql(
        "INSERT INTO runs (campaign_id, status, due_at, started_at, finished_at, recipients,"
        " batches_total)"
        " SELECT c.id, 'sent', s, s, s, :m, 0 FROM campaigns c,"
        " LATERAL (VALUES (CAST(:start AS timestamptz) + interval '1 day'),"
        "                 (CAST(:start AS timestamptz) - interval '6 days')) AS w(s)",
        m=members,
        start=start,
    )
    stack.sql(
        "INSERT INTO deliveries (run_id, contact_id, batch_seq, status, attempts, uncertain,"
        " sent_at, updated_at)"
        " SELECT r.id, c.id, 0, 'sent', 1, false, r.started_at, r.started_at"
        " FROM runs r CROSS JOIN contacts c"
    )
    deliveries = int(stack.sql("SELECT max(id) FROM deliveries"))
    # the secondary indexes are built once over the whole table afterwards (several times
    # faster than keeping seven of them up to date through ten million inserts); the table ends
    # with exactly the indexes the migrations made
    indexes = stack.sql_all(
        "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'events'"
        " AND indexname NOT IN (SELECT conname FROM pg_constraint)"
    )
    for name, _ in indexes:
        stack.sql(f'DROP INDEX "{name}"')
    # opens and clicks, some machine; each delivery's run and campaign copied onto the event
    stack.sql(
        "INSERT INTO events (contact_id, type, campaign_id, run_id, delivery_id, occurred_at,"
        " machine, data)"
        " SELECT d.contact_id, CASE WHEN g % 4 = 0 THEN 'email.clicked' ELSE 'email.opened' END,"
        "  r.campaign_id, d.run_id, d.id, d.sent_at + (g % 600) * interval '1 minute',"
        "  g % 10 = 0,"
        "  CASE WHEN g % 4 = 0 THEN jsonb_build_object('url', 'https://shop.example/p/' || g % 50)"
        "  ELSE '{}'::jsonb END"
        " FROM generate_series(1::bigint, :n) AS g"
        " JOIN deliveries d ON d.id = 1 + (g * 7919) % :d"
        " JOIN runs r ON r.id = d.run_id",
        n=events,
        d=deliveries,
    )
    for _, definition in indexes:
        stack.sql(definition)
    for table in ("runs", "deliveries", "events"):
        stack.sql(f"ANALYZE {table}")
    return start, end


def run(events: int = EVENTS, repeat: int = REPEAT, write: bool = True) -> dict[str, Any]:
    """The weekly report benchmark; writes its section of BENCHMARKS.md when ``write``."""
    from herald.core.db import Database
    from herald.reports.weekly import build_weekly_report, week_of

    members = max(10, min(50_000, events // (CAMPAIGNS * 10)))
    with Stack("report", web=False, worker=False, scheduler=False) as stack:
        t0 = time.perf_counter()
        start, end = seed_week(stack, events, members)
        seeding = time.perf_counter() - t0
        db = Database(stack.url)
        week = week_of(start + timedelta(days=1), ZoneInfo("UTC"))
        herald, floor = [], []
        for _ in range(repeat):
            t = time.perf_counter()
            stack.sql(FLOOR, start=start, end=end)
            floor.append(time.perf_counter() - t)
            t = time.perf_counter()
            with db.session() as session:
                report = build_weekly_report(session, week)
            herald.append(time.perf_counter() - t)
        assert len(report["campaigns"]) == CAMPAIGNS, report["campaigns"]
        db.dispose()
    result = {
        "herald": median(herald),
        "floor": median(floor),
        "events": events,
        "seeding": seeding,
        "members": members,
    }
    if write:
        write_section("reports", _report(result, repeat))
    return result


def _report(r: dict[str, Any], repeat: int) -> str:
    return f"""## Weekly report over {r["events"]:,} events

{machine()}; `{command()}`; medians of {repeat} runs. PostgreSQL; {CAMPAIGNS} campaigns, each
with a run in the report's week and one the week before, {r["members"]:,} members a run,
{r["events"]:,} opens and clicks (seeded with `generate_series` in {r["seeding"]:.0f} s).

| path | median time |
|---|---|
| hand-written SQL: opens and clicks per run of the week (the floor) | {r["floor"]:.2f} s |
| Herald: the whole report as `GET /reports/weekly` builds it | {r["herald"]:.2f} s |

Herald takes **{r["herald"] / r["floor"]:.1f}×** the floor's time (it also reads the ledger,
conversions, the week before and top links).
"""


def main() -> None:
    print(_report(run(), REPEAT))


if __name__ == "__main__":
    main()
