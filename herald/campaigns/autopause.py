"""A campaign whose first chunk fails for every member pauses itself, with the reason.

A template that renders for nobody (or a broken channel) would otherwise fail the whole audience
row by row, and the marketer would learn of it from the ledger. When a chunk's every hand-off
failed for good and nothing of the run has been sent yet, the campaign is paused and the first
failure's reason is stored on it for its page; ``resume`` goes on with the members left.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from herald.campaigns import status as st
from herald.campaigns.models import Campaign, Delivery
from herald.channels.base import Outcome
from herald.core import clock

# below this many hand-offs a failed chunk says little about the template (one bad address)
MIN_FAILED = 2


def pause_if_all_failed(
    session: Session, campaign_id: int, run_id: int, outcomes: Iterable[tuple[Any, Outcome]]
) -> str | None:
    """Pause the campaign when this chunk's every hand-off failed for good and nothing of the
    run went out; returns the stored reason, or None when the campaign goes on."""
    results = [outcome for _, outcome in outcomes]
    if len(results) < MIN_FAILED or any(o.status != "permanent" for o in results):
        return None
    sent = session.scalar(
        select(Delivery.id).where(Delivery.run_id == run_id, Delivery.status == st.SENT).limit(1)
    )
    if sent is not None:
        return None
    first = results[0].reason or "failed"
    reason = (f"paused by Herald: the first {len(results)} messages all failed, e.g. {first}")[:500]
    paused = session.execute(
        update(Campaign)
        .where(Campaign.id == campaign_id, Campaign.status.in_(("sending", "testing")))
        .values(status="paused", pause_reason=reason, updated_at=clock.now())
    ).rowcount
    return reason if paused else None
