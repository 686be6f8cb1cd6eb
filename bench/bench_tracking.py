"""Tracking under load: open pixels per second and p99 from wrk in its own process, against
``herald web`` (gunicorn) on PostgreSQL, beside a bare Flask GIF endpoint under the same
gunicorn settings, in the same run. Every event is counted: after each run the events table must
hold one ``email.opened`` per answered request (give or take the requests still in flight when
wrk stopped), and unique opens equal the distinct deliveries requested.

BENCH_TRACK_SECONDS (10) of load per run, BENCH_TRACK_CONNECTIONS (16), BENCH_REPEAT (3).
"""

from __future__ import annotations

import os
import time
from typing import Any

from bench import loadgen, seed
from bench.bench_send import api, api_token
from bench.report import command, machine, median, write_section
from bench.stack import Stack, free_port

SECONDS = float(os.environ.get("BENCH_TRACK_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_TRACK_CONNECTIONS", "16"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
DELIVERIES = int(os.environ.get("BENCH_TRACK_DELIVERIES", "20000"))
AGENT = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/120 Safari/537.36"


def seed_deliveries(stack: Stack, count: int) -> list[int]:
    """A sent campaign run with ``count`` deliveries, an hour old."""
    seed.members(stack.sql, count)
    token = api_token(stack)
    body = {
        "name": "Tracked",
        "channel": "email",
        "variants": [{"name": "A", "subject": "Hi", "html": "<p>Hi</p>"}],
        "schedule": {"type": "immediate"},
    }
    campaign = api(stack, token, "POST", "/campaigns", body)
    run_id = stack.sql(
        "INSERT INTO runs (campaign_id, status, due_at, started_at, finished_at, recipients,"
        " batches_total) VALUES (:c, 'sent', now(), now(), now(), :n, 0) RETURNING id",
        c=campaign["id"],
        n=count,
    )
    stack.sql(
        "INSERT INTO deliveries (run_id, contact_id, batch_seq, status, attempts, uncertain,"
        " sent_at, updated_at)"
        " SELECT :r, id, 0, 'sent', 1, false, now() - interval '1 hour', now()"
        " FROM contacts",
        r=run_id,
    )
    assert stack.engine is not None
    with stack.engine.connect() as conn:
        from sqlalchemy import text

        return list(conn.execute(text("SELECT id FROM deliveries ORDER BY id")).scalars())


def opens(stack: Stack, answered: int, timeout: float = 30) -> tuple[int, int]:
    """Opens and unique opens, once the web processes' journals have been recorded: waits until
    at least ``answered`` opens are in and the count has stood still for a second."""
    assert stack.engine is not None
    from sqlalchemy import text

    deadline = time.monotonic() + timeout
    last, still_since = -1, time.monotonic()
    while True:
        with stack.engine.connect() as conn:
            row = conn.execute(
                text(
                    "SELECT count(*), count(DISTINCT delivery_id) FROM events"
                    " WHERE type = 'email.opened'"
                )
            ).one()
        now = time.monotonic()
        if row[0] != last:
            last, still_since = row[0], now
        if (row[0] >= answered and now - still_since >= 1) or now > deadline:
            return int(row[0]), int(row[1])
        time.sleep(0.2)


def run(seconds: float = SECONDS, repeat: int = REPEAT, write: bool = True) -> dict[str, Any]:
    """The tracking benchmark; writes its section of BENCHMARKS.md when ``write``."""
    from herald.templating.tracking import open_url

    with Stack("track", worker=False, scheduler=False) as stack:
        ids = seed_deliveries(stack, DELIVERIES)
        public = stack.env["HERALD_PUBLIC_URL"]
        secret = stack.env["HERALD_SECRET_KEY"]
        lines = [
            ("GET", open_url(public, secret, i).removeprefix(public), {"User-Agent": AGENT}, "")
            for i in ids
        ]
        requests = loadgen.write_requests(lines)
        bare_port = free_port()
        stack.spawn("bare", stack.gunicorn("bench.bare_apps:app", bare_port))
        stack._wait_port(bare_port)
        herald, bare = [], []
        for _ in range(repeat):
            stack.sql("TRUNCATE events CASCADE")  # order_items refer to their events
            bare.append(loadgen.run(bare_port, requests, seconds, CONNECTIONS))
            load = loadgen.run(stack.port, requests, seconds, CONNECTIONS)
            recorded, unique = opens(stack, load.requests - load.non_2xx)
            # wrk stops counting with requests in flight: at most one per connection
            if not (load.requests - load.non_2xx <= recorded <= load.requests + CONNECTIONS):
                raise RuntimeError(f"events lost: {load.requests} answered, {recorded} recorded")
            if unique != min(recorded, len(ids)):
                raise RuntimeError(f"unique opens {unique}, expected {min(recorded, len(ids))}")
            herald.append((load, recorded))
        requests.unlink()
    result = {
        "herald_rps": median([h.rps for h, _ in herald]),
        "herald_p99": median([h.p99_ms for h, _ in herald]),
        "bare_rps": median([b.rps for b in bare]),
        "bare_p99": median([b.p99_ms for b in bare]),
        "recorded": sum(r for _, r in herald),
        "answered": sum(h.requests for h, _ in herald),
        "errors": sum(h.errors + h.non_2xx for h, _ in herald),
        "workers": stack.web_workers,
        "threads": stack.web_threads,
    }
    if write:
        write_section("tracking", _report(result, seconds, repeat))
    return result


def _report(r: dict[str, Any], seconds: float, repeat: int) -> str:
    return f"""## Tracking: open pixels under load

{machine()}; `{command()}`; medians of {repeat} runs of {seconds:.0f} s, wrk with
{CONNECTIONS} connections in its own process, a different signed pixel per request (human
user agent). Both apps under gunicorn, {r["workers"]} workers × {r["threads"]} threads;
Herald on PostgreSQL.

| endpoint | requests/s | p99 |
|---|---|---|
| bare Flask GIF endpoint (baseline) | {r["bare_rps"]:,.0f} | {r["bare_p99"]:.1f} ms |
| Herald `/t/o/<token>.gif` (verify, journal, answer) | {r["herald_rps"]:,.0f} \
| {r["herald_p99"]:.1f} ms |

Herald answers **{r["herald_rps"] / max(r["bare_rps"], 1e-9):.2f}×** the bare endpoint's requests/s.
Every event counted: {r["answered"]:,} pixels answered, {r["recorded"]:,} opens recorded
(the difference is requests still in flight when wrk stopped), {r["errors"]} errors;
unique opens equal the distinct deliveries opened.
"""


def main() -> None:
    print(_report(run(), SECONDS, REPEAT))


if __name__ == "__main__":
    main()
