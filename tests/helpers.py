"""Small helpers for tests: drive the pipeline in-process the way the tick and workers do."""

from __future__ import annotations

from typing import Any

from herald.campaigns import dispatch
from herald.core.db import Database
from herald.core.settings import Settings
from herald.journeys import engine as journeys


def drain(db: Database, settings: Settings, rounds: int = 50) -> list[dispatch.BatchReport]:
    """Tick and send every enqueued batch until nothing is left to do (what scheduler + worker
    do, minus the broker: the tick moves journeys, triggers among them, then starts runs)."""
    reports = []
    for _ in range(rounds):
        journeys.tick(db, settings)
        ids = dispatch.tick(db, settings)
        if not ids:
            break
        for batch_id in dict.fromkeys(ids):
            reports.append(dispatch.send_batch(db, settings, batch_id))
    return reports


def email_campaign(segment_id: int | None = None, **overrides: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "name": "Double 11 early access",
        "channel": "email",
        "segment_id": segment_id,
        "variants": [
            {
                "name": "A",
                "subject": "Hi {{ contact.first_name }}",
                "html": "<p>Hello {{ contact.first_name }}</p><a href='https://example.com/x'>Shop</a>",
                "text": "Hello {{ contact.first_name }}",
            }
        ],
        "schedule": {"type": "immediate"},
    }
    body.update(overrides)
    return body
