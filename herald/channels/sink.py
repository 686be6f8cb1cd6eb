"""A local SMTP sink for ``make run``: accepts every message and keeps it in ``instance/outbox``.

Started by ``herald run`` when no ``HERALD_SMTP_HOST`` is configured, so the demo works with no
other server; the admin lists what it received.
"""

from __future__ import annotations

import email
import email.parser
import email.policy
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller


class OutboxHandler:
    """aiosmtpd handler writing each message to ``<folder>/<time>-<n>.eml``."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.count = 0

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        name = f"{time.time_ns()}-{self.count}.eml"
        data = envelope.original_content or envelope.content
        (self.folder / name).write_bytes(data if isinstance(data, bytes) else data.encode())
        return "250 Message accepted for delivery"


def start(folder: Path, host: str = "127.0.0.1", port: int = 1025) -> Controller:
    """Start the sink in a background thread and return its controller (``.stop()`` ends it)."""
    controller = Controller(OutboxHandler(folder), hostname=host, port=port)
    controller.start()
    return controller


@dataclass(frozen=True)
class OutboxMessage:
    name: str
    received: float
    sender: str
    to: str
    subject: str
    size: int


def list_outbox(folder: Path, limit: int = 200) -> list[OutboxMessage]:
    """The newest messages in the outbox, newest first."""
    return page_outbox(folder, 0, limit)[0]


def _read(path: Path) -> OutboxMessage:
    with path.open("rb") as handle:
        headers = email.parser.BytesHeaderParser(policy=email.policy.default).parse(handle)
    return OutboxMessage(
        name=path.name,
        received=path.stat().st_mtime,
        sender=str(headers.get("From", "")),
        to=str(headers.get("To", "")),
        subject=str(headers.get("Subject", "")),
        size=path.stat().st_size,
    )


def page_outbox(
    folder: Path, page: int, per_page: int, query: str = ""
) -> tuple[list[OutboxMessage], int]:
    """One page of the outbox, newest first, and how many messages match: ``query`` keeps those
    whose To, From or Subject contain it (any case). Only headers are read."""
    if not folder.is_dir():
        return [], 0
    files = sorted(folder.glob("*.eml"), key=lambda p: p.name, reverse=True)
    wanted = query.strip().lower()
    if not wanted:
        return [_read(p) for p in files[page * per_page : (page + 1) * per_page]], len(files)
    matching = [
        m for m in map(_read, files) if wanted in f"{m.to}\n{m.sender}\n{m.subject}".lower()
    ]
    return matching[page * per_page : (page + 1) * per_page], len(matching)
