"""Behaviour on PostgreSQL: the RFM recompute (scores, groups, favourite category) over
BENCH_MEMBERS members (1,000,000 by default) beside a hand-written SQL baseline, and the
"bought tea in the last 90 days" segment count beside its hand-written SQL.

Seeding (INSERT … SELECT generate_series): four in five members have ordered (1–7 orders,
spend and last order spread out), one order event per buyer with two order lines each in six
categories. Herald's recompute replaces every row of contact_scores (DELETE, one INSERT …
SELECT). The baseline is the SQL one would write by hand for the same table: plain NTILE(5)
scores and a DISTINCT ON favourite category, without groups or tie handling, also after a
DELETE. Medians of BENCH_REPEAT runs (3), alternating. The machine's load average is printed
beside the figures (it is shared)."""

from __future__ import annotations

import os
import time
from typing import Any

from sqlalchemy import text

from bench import seed
from bench.report import command, machine, median, timed, write_section

MEMBERS = int(os.environ.get("BENCH_MEMBERS", "1000000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))

SEED = """
INSERT INTO contacts (external_id, email, tier, points, attributes, orders_count, total_spent,
                      last_order_at, referral_code, created_at, updated_at)
SELECT 'b' || g, 'm' || g || '@shop.cn',
       (ARRAY['new', 'bronze', 'silver', 'gold', 'platinum'])[1 + (g * 7919) % 5],
       (g * 104729) % 2000, '{}'::jsonb,
       CASE WHEN g % 5 = 0 THEN 0 ELSE 1 + (g * 31) % 7 END,
       CASE WHEN g % 5 = 0 THEN 0 ELSE ((g * 7907) % 5000)::numeric / 2 END,
       CASE WHEN g % 5 = 0 THEN NULL
            ELSE now() - (((g * 104723) % 730) || ' days')::interval END,
       'R' || lpad(g::text, 10, '0'), now(), now()
FROM generate_series(1::bigint, :n) AS g;
INSERT INTO events (contact_id, type, occurred_at, machine, data)
SELECT id, 'order.placed', last_order_at, false,
       jsonb_build_object('order_id', 'o' || id, 'total', total_spent)
FROM contacts WHERE orders_count > 0;
INSERT INTO order_items (event_id, line, contact_id, order_id, sku, name, category, qty, price,
                         placed_at)
SELECT e.id, l, e.contact_id, 'o' || e.contact_id,
       (ARRAY['TEA', 'CUP', 'POT', 'SNK', 'GFT', 'BOX'])[1 + (e.id * l * 13) % 6] || '-1',
       'item', (ARRAY['tea', 'cups', 'pots', 'snacks', 'gifts', 'boxes'])[1 + (e.id * l * 13) % 6],
       1 + l, ((e.id * l) % 300)::numeric, e.occurred_at
FROM events e CROSS JOIN generate_series(1, 2) AS l;
"""
BASELINE = [
    "DELETE FROM contact_scores",
    """INSERT INTO contact_scores (contact_id, rfm_recency, rfm_frequency, rfm_monetary,
                            rfm_group, favourite_category)
SELECT s.id, s.r, s.f, s.m, '', fav.category
FROM (SELECT id, NTILE(5) OVER (ORDER BY last_order_at) AS r,
             NTILE(5) OVER (ORDER BY orders_count) AS f,
             NTILE(5) OVER (ORDER BY total_spent) AS m
      FROM contacts WHERE erased_at IS NULL AND orders_count > 0) s
LEFT JOIN (SELECT DISTINCT ON (contact_id) contact_id, category
           FROM (SELECT contact_id, category, SUM(qty * price) AS amount FROM order_items
                 WHERE category IS NOT NULL GROUP BY contact_id, category) t
           ORDER BY contact_id, amount DESC, category) fav ON fav.contact_id = s.id""",
]
SEGMENTS: list[tuple[str, dict[str, Any], str]] = [
    (
        "bought tea in the last 90 days",
        {"event": "order.placed", "within_days": 90, "category": "tea"},
        "SELECT count(*) FROM contacts c WHERE erased_at IS NULL AND EXISTS (SELECT 1 FROM "
        "order_items i WHERE i.contact_id = c.id AND i.category = 'tea' "
        "AND i.placed_at >= now() - interval '90 days' AND i.placed_at <= now())",
    ),
    (
        "RFM group champions or loyal",
        {"field": "rfm.group", "op": "in", "value": ["champions", "loyal"]},
        "SELECT count(*) FROM contacts c JOIN contact_scores s ON s.contact_id = c.id "
        "WHERE c.erased_at IS NULL AND s.rfm_group IN ('champions', 'loyal')",
    ),
]


def _load() -> str:
    one, five, _ = os.getloadavg()
    return f"{one:.1f} / {five:.1f}"


def run(url: str) -> dict[str, Any]:
    from herald.audiences import rfm, segments
    from herald.core.db import Database

    database = Database(url)
    start = time.perf_counter()
    with database.engine.begin() as conn:
        for statement in SEED.split(";"):
            if statement.strip():
                conn.execute(text(statement), {"n": MEMBERS})
    vacuum = database.engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    vacuum.execute(text("VACUUM ANALYZE"))
    seeded = time.perf_counter() - start
    counts = {}
    with database.engine.connect() as conn:
        for table in ("contacts", "events", "order_items"):
            counts[table] = conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one()

    def herald() -> rfm.Recomputed:
        with database.session() as session:
            done = rfm.recompute(session)
            session.commit()
        return done

    def baseline() -> None:
        with database.engine.begin() as conn:
            for statement in BASELINE:
                conn.execute(text(statement))

    times: dict[str, list[float]] = {"herald": [], "baseline": []}
    loads = []
    last: rfm.Recomputed | None = None
    for _ in range(REPEAT):
        for name, fn in (("baseline", baseline), ("herald", herald)):
            vacuum.execute(text("VACUUM contact_scores"))
            loads.append(_load())
            began = time.perf_counter()
            result = fn()
            times[name].append(time.perf_counter() - began)
            if name == "herald":
                last = result
        print(f"  run: { {k: round(v[-1], 1) for k, v in times.items()} } load {loads[-1]}")
    assert last is not None
    with database.session() as session:
        buyers = session.scalar(text("SELECT count(*) FROM contacts WHERE orders_count > 0"))
        assert last.scored == buyers, (last, buyers)
        groups = rfm.overview(session)["groups"]
        counted = []
        for label, rules, sql in SEGMENTS:
            found, raw = segments.count(session, rules), session.scalar(text(sql))
            assert found == raw, (label, found, raw)
            ours = timed(lambda r=rules: segments.count(session, r), 5)
            theirs = timed(lambda q=sql: session.scalar(text(q)), 5)
            counted.append((label, found, raw, median(ours), median(theirs)))
    database.dispose()
    vacuum.close()
    return {
        "seeded": seeded,
        "counts": counts,
        "herald": median(times["herald"]),
        "baseline": median(times["baseline"]),
        "all": times,
        "loads": loads,
        "scored": last.scored,
        "groups": groups,
        "segments": counted,
    }


def main() -> None:
    from herald.core.migrate import upgrade

    with seed.scratch_database() as url:
        upgrade(url)
        result = run(url)
    print(f"behaviour: {result}", flush=True)
    write_section("behaviour", report(result))


def report(r: dict[str, Any]) -> str:
    c = r["counts"]
    groups = ", ".join(f"{g} {n:,}" for g, n in r["groups"].items())
    pairs = zip(r["all"]["herald"], r["all"]["baseline"], strict=True)
    runs = "; ".join(f"{h:.1f} / {b:.1f} s" for h, b in pairs)
    verdict = "under" if r["herald"] < 60 else "OVER"
    segment_rows = "\n".join(
        f"| {label} | {found:,} | {ours * 1000:.0f} ms | {theirs * 1000:.0f} ms ({raw:,}) |"
        for label, found, raw, ours, theirs in r["segments"]
    )
    return f"""
## Behaviour: RFM recompute over {c["contacts"]:,} members (PostgreSQL)

{machine()}; `{command()}`. Load average (1 / 5 min) at each timed run: {", ".join(r["loads"])}.

Seeded with INSERT … SELECT generate_series in {r["seeded"]:.0f} s ({c["contacts"]:,} members,
{c["events"]:,} order events, {c["order_items"]:,} order lines), then VACUUM ANALYZE. Each
run rebuilds contact_scores for the {r["scored"]:,} buyers in one transaction; medians of
{len(r["all"]["herald"])} runs.

| recompute | time | × baseline |
|---|---|---|
| hand-written SQL: NTILE(5), DISTINCT ON favourite (baseline) | {r["baseline"]:.1f} s | 1.0× |
| Herald `rfm.recompute`: tie-safe quintiles, groups, favourite | {r["herald"]:.1f} s | {
        r["herald"] / r["baseline"]:.2f}× |

Runs (Herald / baseline): {runs}. Herald's recompute is **{verdict} a minute**.
Groups: {groups}.

Segment counts over the same members (Herald's one query beside hand-written SQL, medians of
5):

| segment | members | Herald | hand-written SQL (its count) |
|---|---|---|---|
{segment_rows}
"""


if __name__ == "__main__":
    main()
