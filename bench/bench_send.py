"""Sending throughput: Herald's whole path (ledger claim, policy, render, SMTP hand-off, ledger
close) against a raw smtplib loop sending the same number of prebuilt messages to the same sink."""

from __future__ import annotations

import os
import smtplib
import tempfile
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

from aiosmtpd.controller import Controller

from bench.report import machine, median, timed, write_section

MESSAGES = int(os.environ.get("BENCH_SEND_MESSAGES", "2000"))
REPEAT = int(os.environ.get("BENCH_REPEAT", "3"))


class Sink:
    def __init__(self) -> None:
        self.count = 0

    async def handle_DATA(self, server, session, envelope):  # type: ignore[no-untyped-def]
        self.count += 1
        return "250 OK"


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def raw_bytes(port: int) -> None:
    """The floor: one connection, one message serialised once, its bytes sent MESSAGES times."""
    message = EmailMessage()
    message["From"] = "marketing@example.com"
    message["To"] = "member@example.com"
    message["Subject"] = "Hi"
    message.set_content("Hello")
    message.add_alternative("<p>Hello</p>", subtype="html")
    data = message.as_bytes()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(MESSAGES):
            smtp.sendmail("marketing@example.com", [f"m{i}@example.com"], data)


def raw_smtplib(port: int) -> None:
    """The baseline: one connection, one prebuilt message, sent MESSAGES times."""
    message = EmailMessage()
    message["From"] = "marketing@example.com"
    message["Subject"] = "Hi"
    message.set_content("Hello")
    message.add_alternative("<p>Hello</p>", subtype="html")
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for i in range(MESSAGES):
            del message["To"]
            message["To"] = f"m{i}@example.com"
            smtp.send_message(message)


def herald_send(database_url: str, port: int, tmp: Path) -> float:
    """Herald's path: a campaign to MESSAGES members, every batch sent in this process. Seeding
    is not timed; planning the run and sending every batch is. Returns seconds."""
    import time

    from herald.campaigns import dispatch, service
    from herald.channels import registry
    from herald.core.db import Database
    from herald.core.migrate import upgrade
    from herald.core.settings import Settings
    from tests.helpers import email_campaign
    from tests.workers.support import seed_members

    upgrade(database_url)
    db = Database(database_url)
    settings = Settings.from_env(
        {
            "HERALD_INSTANCE_PATH": str(tmp),
            "HERALD_DATABASE_URL": database_url,
            "HERALD_SECRET_KEY": "bench",
            "HERALD_SMTP_HOST": "127.0.0.1",
            "HERALD_SMTP_PORT": str(port),
            "HERALD_FREQUENCY_CAP": "off",
            "HERALD_BATCH_SIZE": "500",
            "HERALD_FLUSH_EVERY": "50",
        }
    )
    seed_members(db, MESSAGES)
    with db.session() as session:
        campaign = service.create_campaign(session, email_campaign(), ZoneInfo("UTC"))
        service.send_now(session, campaign)
    start = time.perf_counter()
    with db.session() as session:
        batch_ids = dispatch.start_due_runs(session, settings)
    for batch_id in batch_ids:
        dispatch.send_batch(db, settings, batch_id)
    elapsed = time.perf_counter() - start
    registry.close_all()
    db.dispose()
    return elapsed


def main() -> None:
    sink = Sink()
    port = _free_port()
    controller = Controller(sink, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        floor = timed(lambda: raw_bytes(port), REPEAT)
        baseline = timed(lambda: raw_smtplib(port), REPEAT)
        runs = []
        for _ in range(REPEAT):
            with tempfile.TemporaryDirectory() as tmp:
                runs.append(herald_send(f"sqlite:///{tmp}/bench.db", port, Path(tmp)))
    finally:
        controller.stop()
    f, b, h = median(floor), median(baseline), median(runs)
    body = f"""## Sending email ({MESSAGES} messages to a local aiosmtpd sink)

{machine()}; {REPEAT} runs each, medians. Herald: SQLite ledger, one process, batches of 500,
chunks of 50; timed from claiming the due campaign to the last ledger row closed (seeding the
members is not timed). The sink runs in the same process as the sender for both paths.

| path | median time | messages/s |
|---|---|---|
| raw smtplib `sendmail` of bytes serialised once (the floor) | {f:.2f} s | {MESSAGES / f:,.0f} |
| raw smtplib `send_message` loop, prebuilt message (baseline) | {b:.2f} s | {MESSAGES / b:,.0f} |
| Herald: plan + ledger + policy + render + SMTP + close | {h:.2f} s | {MESSAGES / h:,.0f} |

Herald takes **{h / b:.2f}×** the `send_message` loop's time and **{h / f:.2f}×** the floor's.
`send_message` serialises the `EmailMessage` on every send; Herald renders each member's
message from a skeleton prepared once per run and hands bytes to the SMTP connection, so its
ledger writes cost less than that serialisation saves.
"""
    write_section("send", body)
    print(body)


if __name__ == "__main__":
    main()
