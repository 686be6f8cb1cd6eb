"""Verified shop webhooks per second: wrk in its own process posts signed ``points.changed``
events (each with its own ``webhook-id``) to ``herald web`` (gunicorn, PostgreSQL), beside a bare
Flask endpoint that only checks the signature, under the same gunicorn settings. Every accepted
webhook must have its inbox row.

BENCH_HOOK_SECONDS (10) per run, BENCH_HOOK_CONNECTIONS (16), BENCH_REPEAT (3).
"""

from __future__ import annotations

import json
import os
import time
import uuid
from typing import Any

from standardwebhooks import Webhook

from bench import loadgen, seed
from bench.report import command, machine, median, write_section
from bench.stack import Stack, free_port

SECONDS = float(os.environ.get("BENCH_HOOK_SECONDS", "10"))
CONNECTIONS = int(os.environ.get("BENCH_HOOK_CONNECTIONS", "16"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
MEMBERS = 10_000


def signed_requests(secret: str, count: int) -> list[tuple[str, str, dict[str, str], str]]:
    """``count`` signed webhooks, each with its own id, for existing members."""
    hook = Webhook(secret)
    now = int(time.time())
    out = []
    for i in range(count):
        body = json.dumps(
            {
                "type": "points.changed",
                "data": {"customer_external_id": f"x{1 + i % MEMBERS}", "points": i, "previous": 0},
            }
        )
        webhook_id = f"msg_{uuid.uuid4().hex}"
        from datetime import UTC, datetime

        signature = hook.sign(webhook_id, datetime.fromtimestamp(now, UTC), body)
        headers = {
            "Content-Type": "application/json",
            "webhook-id": webhook_id,
            "webhook-timestamp": str(now),
            "webhook-signature": signature,
        }
        out.append(("POST", "/webhooks/shop", headers, body))
    return out


def run(seconds: float = SECONDS, repeat: int = REPEAT, write: bool = True) -> dict[str, Any]:
    """The webhook benchmark; writes its section of BENCHMARKS.md when ``write``."""
    with Stack("hooks", worker=False, scheduler=False) as stack:
        seed.members(stack.sql, MEMBERS)
        secret = stack.env["HERALD_SHOP_WEBHOOK_SECRET"]
        bare_port = free_port()
        stack.spawn("bare", stack.gunicorn("bench.bare_apps:app", bare_port))
        stack._wait_port(bare_port)
        herald, bare = [], []
        for _ in range(repeat):
            # enough distinct webhooks that none repeats within a run (generous ceiling)
            requests = loadgen.write_requests(signed_requests(secret, int(3000 * seconds) + 100))
            stack.sql("TRUNCATE webhook_inbox")
            bare.append(loadgen.run(bare_port, requests, seconds, CONNECTIONS))
            load = loadgen.run(stack.port, requests, seconds, CONNECTIONS)
            time.sleep(1)  # the requests in flight when wrk stopped
            stored = int(stack.sql("SELECT count(*) FROM webhook_inbox"))
            if not (load.requests - load.non_2xx <= stored <= load.requests + CONNECTIONS):
                raise RuntimeError(f"webhooks lost: {load.requests} answered, {stored} stored")
            herald.append(load)
            requests.unlink()
    result = {
        "herald_rps": median([h.rps for h in herald]),
        "herald_p99": median([h.p99_ms for h in herald]),
        "bare_rps": median([b.rps for b in bare]),
        "bare_p99": median([b.p99_ms for b in bare]),
        "errors": sum(h.errors + h.non_2xx for h in herald),
        "workers": stack.web_workers,
        "threads": stack.web_threads,
    }
    if write:
        write_section("webhooks", _report(result, seconds, repeat))
    return result


def _report(r: dict[str, Any], seconds: float, repeat: int) -> str:
    return f"""## Shop webhooks: verified events per second

{machine()}; `{command()}`; medians of {repeat} runs of {seconds:.0f} s, wrk with
{CONNECTIONS} connections in its own process posting signed `points.changed` webhooks, each with
its own `webhook-id`. Both apps under gunicorn, {r["workers"]} workers × {r["threads"]} threads.

| endpoint | webhooks/s | p99 |
|---|---|---|
| bare Flask endpoint, signature check only (baseline) | {r["bare_rps"]:,.0f} \
| {r["bare_p99"]:.1f} ms |
| Herald `/webhooks/shop` (verify, inbox, apply, commit) | {r["herald_rps"]:,.0f} \
| {r["herald_p99"]:.1f} ms |

Herald takes **{r["herald_rps"] / max(r["bare_rps"], 1e-9):.2f}×** the bare endpoint's rate; every
accepted webhook has its inbox row ({r["errors"]} errors).
"""


def main() -> None:
    print(_report(run(), SECONDS, REPEAT))


if __name__ == "__main__":
    main()
