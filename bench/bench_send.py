"""Sending email through the production path: API → scheduler → Celery workers on Redis →
PostgreSQL ledger → SMTP to a fast sink, beside a bare render + MIME + smtplib loop with one
process per core, in the same run.

Sizes: BENCH_SEND_MEMBERS (100,000; ``--full``: 1,000,000), the scaling runs (one and two
worker processes) at a fifth of it, BENCH_REPEAT runs (3) of each, medians. Exactly once is
checked on every run: the sink must have accepted exactly one message per member and every
ledger row must be closed ``sent``.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import smtplib
import subprocess
import time
import urllib.request
from typing import Any

from bench import seed
from bench.report import command, machine, median, write_section
from bench.smtp_sink import count as sink_count
from bench.stack import Stack

MEMBERS = int(os.environ.get("BENCH_SEND_MEMBERS", "100000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))
WORKERS = int(os.environ.get("BENCH_WORKER_PROCESSES", "2"))

SUBJECT = "{{ contact.first_name }}, Double 11 starts now"
HTML = """<html><body><h1>Hello {{ contact.first_name }} {{ contact.last_name }}</h1>
<p>As a {{ contact.tier }} member with {{ contact.points }} points you get early access.</p>
<p><a href="https://shop.example/d11?tier={{ contact.tier }}">Shop the sale</a> ·
<a href="https://shop.example/points">Your points</a> ·
<a href="https://shop.example/help">Help</a></p>
<p style="color:#888">You get this because you joined our club.
<a href="{{ unsubscribe_url }}">Unsubscribe</a></p></body></html>"""
TEXT = "Hello {{ contact.first_name }}, Double 11 starts now: https://shop.example/d11"


# --------------------------------------------------------------------------- the baseline


def _bare_part(args: tuple[int, int, int]) -> None:
    """Render, build MIME by hand and send over one smtplib connection: ``count`` messages."""
    from jinja2.sandbox import SandboxedEnvironment

    start, count, port = args
    env = SandboxedEnvironment(autoescape=True)
    subject, html, text = (env.from_string(t) for t in (SUBJECT, HTML, TEXT))
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(start, start + count):
            contact = {"first_name": f"Name{i}", "last_name": "Li", "tier": "gold", "points": i}
            context = {"contact": contact, "unsubscribe_url": f"https://h.example/u/{i}"}
            to = f"m{i}@bench.example"
            data = (
                f"From: Herald <marketing@example.com>\r\nTo: {to}\r\n"
                f"Subject: {subject.render(context)}\r\nMessage-ID: <{i}@bench>\r\n"
                'MIME-Version: 1.0\r\nContent-Type: multipart/alternative; boundary="b"\r\n\r\n'
                '--b\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\n'
                f"{text.render(context)}\r\n"
                '--b\r\nContent-Type: text/html; charset="utf-8"\r\n\r\n'
                f"{html.render(context)}\r\n--b--\r\n"
            ).encode()
            smtp.sendmail("marketing@example.com", [to], data)


def bare_loop(members: int, port: int) -> float:
    """Seconds for the bare pipeline, one process per core."""
    cores = os.cpu_count() or 1
    share = -(-members // cores)
    parts = [(k * share, min(share, members - k * share), port) for k in range(cores)]
    start = time.perf_counter()
    with multiprocessing.get_context("fork").Pool(cores) as pool:
        pool.map(_bare_part, [p for p in parts if p[1] > 0])
    return time.perf_counter() - start


# --------------------------------------------------------------------------- Herald's path


def api(stack: Stack, token: str, method: str, path: str, body: Any = None) -> Any:
    request = urllib.request.Request(
        f"http://127.0.0.1:{stack.port}/api/v1{path}",
        data=json.dumps(body).encode() if body is not None else None,
        method=method,
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=60) as response:
        return json.loads(response.read())


def api_token(stack: Stack) -> str:
    out = subprocess.run(
        stack.herald("token", "create", "--name", "bench"),
        env=stack.env,
        check=True,
        capture_output=True,
    )
    return out.stdout.decode().strip()


def herald_send(stack: Stack, token: str, members: int, timeout: float) -> float:
    """One campaign to every member, from the API call to the run closed; checks exactly once.
    Returns seconds."""
    # a fresh ledger each run: earlier runs would count against the frequency cap
    stack.sql("TRUNCATE deliveries, batches, runs CASCADE")
    before = sink_count(stack.smtp_port)
    body = {
        "name": f"Double 11 {time.time()}",
        "channel": "email",
        "variants": [{"name": "A", "subject": SUBJECT, "html": HTML, "text": TEXT}],
        "schedule": {"type": "immediate"},
    }
    campaign = api(stack, token, "POST", "/campaigns", body)
    start = time.perf_counter()
    api(stack, token, "POST", f"/campaigns/{campaign['id']}/send-now")
    while True:
        status = stack.sql(
            "SELECT status FROM runs WHERE campaign_id = :c AND finished_at IS NOT NULL",
            c=campaign["id"],
        )
        if status is not None:
            break
        if time.perf_counter() - start > timeout:
            raise RuntimeError(f"send did not finish in {timeout:.0f} s; logs in {stack.tmp}")
        time.sleep(0.25)
    elapsed = time.perf_counter() - start
    sent = stack.sql("SELECT count(*) FROM deliveries WHERE status = 'sent'")
    received = sink_count(stack.smtp_port) - before
    if sent != members or received != members:
        raise RuntimeError(f"not exactly once: {members} members, {sent} sent, {received} received")
    return elapsed


def measure(members: int, processes: int, repeat: int) -> dict[str, Any]:
    """Medians of ``repeat`` sends and bare loops at ``members`` with ``processes`` workers."""
    from bench.stack import MemoryWatch

    with Stack("send", worker_processes=processes) as stack:
        seed.members(stack.sql, members)
        token = api_token(stack)
        herald, bare, peaks = [], [], []
        for _ in range(repeat):
            bare.append(bare_loop(members, stack.smtp_port))
            watch = MemoryWatch(stack.procs["worker"].pid)
            watch.start()
            herald.append(herald_send(stack, token, members, timeout=max(120, members / 20)))
            watch.stop()
            peaks.append((watch.peak_process, watch.peak_total))
    return {
        "members": members,
        "processes": processes,
        "herald": median(herald),
        "bare": median(bare),
        "peak_process_mib": max(p for p, _ in peaks) / 1024,
        "peak_total_mib": max(t for _, t in peaks) / 1024,
    }


def run(members: int = MEMBERS, repeat: int = REPEAT, write: bool = True) -> dict[str, Any]:
    """The whole send benchmark; writes its section of BENCHMARKS.md when ``write``."""
    main_run = measure(members, WORKERS, repeat)
    small = max(1, members // 5)
    one = measure(small, 1, repeat)
    two = measure(small, 2, repeat)
    result = {"main": main_run, "one": one, "two": two}
    if write:
        write_section("send", _report(result, repeat))
    return result


def _report(r: dict[str, Any], repeat: int) -> str:
    m, one, two = r["main"], r["one"], r["two"]
    h_rate, b_rate = m["members"] / m["herald"], m["members"] / m["bare"]
    one_rate, two_rate = one["members"] / one["herald"], two["members"] / two["herald"]
    million = 1_000_000 / h_rate / 60
    return f"""## Sending email through the production path ({m["members"]:,} members)

{machine()}; `{command()}`; medians of {repeat} runs. Herald: `herald web` (gunicorn),
`herald scheduler`, `herald worker --concurrency {m["processes"]}` on Redis, PostgreSQL,
SMTP to the fast sink in bench/smtp_sink.py; timed from `POST /campaigns/{{id}}/send-now` to
the run closed, every run checked exactly once (sink count = members = ledger rows `sent`).
Baseline: Jinja2 sandbox render + hand-built MIME + smtplib, one process per core, same sink.

| path | median time | messages/s |
|---|---|---|
| bare render + MIME + smtplib loop (baseline) | {m["bare"]:.1f} s | {b_rate:,.0f} |
| Herald, {m["processes"]} worker processes | {m["herald"]:.1f} s | {h_rate:,.0f} |

Herald sends at **{h_rate / b_rate:.2f}×** the bare loop's rate; 1,000,000 members at this
rate take {million:.1f} minutes.

**Scaling** ({one["members"]:,} members): 1 worker process {one_rate:,.0f} msg/s,
2 processes {two_rate:,.0f} msg/s (**{two_rate / one_rate:.2f}×**; bare loop
{one["members"] / one["bare"]:,.0f} msg/s in the same runs).

**Peak worker memory** (resident, largest process / whole `herald worker` tree):
{two["peak_process_mib"]:.0f} / {two["peak_total_mib"]:.0f} MiB at {two["members"]:,} members,
{m["peak_process_mib"]:.0f} / {m["peak_total_mib"]:.0f} MiB at {m["members"]:,}.
"""


def main() -> None:
    import sys

    members = 1_000_000 if "--full" in sys.argv else MEMBERS
    print(_report(run(members), REPEAT))


if __name__ == "__main__":
    main()
