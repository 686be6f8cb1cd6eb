"""Recovering what a dead worker left behind, and when to try a failed hand-off again.

Rows left ``sending`` by a worker that died have an unknown outcome: they are flagged uncertain
(and counted), handed off once more only where the channel makes that harmless, and failed once
they reach the attempt ceiling. Transient failures wait an exponential, jittered back-off; while
the provider itself is down, the whole batch waits and no member is given up for it.
"""

from __future__ import annotations

import random
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, or_, update
from sqlalchemy.orm import Session

from herald.campaigns import status as st
from herald.campaigns.models import Batch, Delivery
from herald.core import clock

MAX_ATTEMPTS = 5
BACKOFF_BASE = 2.0
BACKOFF_CEILING = 600.0


def recover_in_flight(session: Session, batch: Batch, channel: Any) -> int:
    """Rows left ``sending`` by a worker that died: their hand-off's outcome is unknown. They are
    flagged uncertain (and counted); a channel whose second hand-off is harmless (the same
    Message-ID, an idempotency key) gets them again, the others keep them ``uncertain``."""
    in_flight = and_(
        Delivery.run_id == batch.run_id,
        Delivery.batch_seq == batch.seq,
        Delivery.status == st.SENDING,
    )
    exhausted = session.execute(
        update(Delivery)
        .where(in_flight, Delivery.attempts >= MAX_ATTEMPTS)
        .values(
            status=st.FAILED,
            uncertain=True,
            reason=f"gave up after {MAX_ATTEMPTS} attempts: the worker stopped mid-send each time",
            updated_at=clock.now(),
        )
    ).rowcount
    resend = getattr(channel, "resend_uncertain", False)
    values: dict[str, Any] = {"uncertain": True, "updated_at": clock.now()}
    if resend:
        values.update(status=st.PENDING, reason="handed off again after a worker stopped mid-send")
    else:
        values.update(
            status=st.UNCERTAIN,
            reason="worker stopped mid-send; outcome unknown, not resent (resend from the admin)",
        )
    return exhausted + session.execute(update(Delivery).where(in_flight).values(**values)).rowcount


def give_back_unsent(session: Session, unsent: list[int], stamp: datetime | None) -> int:
    """Rows this worker claimed but never handed off (it stopped early: the provider is down, or
    the lease could not be renewed) go back to ``pending`` without the attempt their claim
    counted: they are not in flight, so nobody need treat them as uncertain. Only rows still held
    under this worker's claim are touched."""
    if not unsent:
        return 0
    return session.execute(
        update(Delivery)
        .where(Delivery.id.in_(unsent), Delivery.status == st.SENDING, Delivery.claimed_at == stamp)
        .values(status=st.PENDING, attempts=Delivery.attempts - 1, updated_at=clock.now())
    ).rowcount


def wait_out_outage(session: Session, run_id: int, seq: int, until: datetime) -> int:
    """The provider is down (see ``Outcome.outage``): every pending row of the batch waits until
    ``until``, so the batch tries one message per back-off, not every member. Returns the rows
    made to wait."""
    return session.execute(
        update(Delivery)
        .where(
            Delivery.run_id == run_id,
            Delivery.batch_seq == seq,
            Delivery.status == st.PENDING,
            or_(Delivery.not_before.is_(None), Delivery.not_before < until),
        )
        .values(not_before=until, updated_at=clock.now())
    ).rowcount


def backoff(
    attempt: int, retry_after: float | None = None, rng: random.Random | None = None
) -> float:
    """Seconds before retry number ``attempt``: exponential from 2 s with full jitter, capped;
    a provider's Retry-After is honoured up to the cap."""
    rng = rng or random.Random()
    ceiling = min(BACKOFF_CEILING, BACKOFF_BASE * (2 ** max(0, attempt - 1)))
    delay = rng.uniform(ceiling / 2, ceiling)
    if retry_after is not None:
        delay = max(delay, min(retry_after, BACKOFF_CEILING))
    return delay


def closing_row(delivery_id: int, attempts: int, outcome: Any, now: datetime) -> dict[str, Any]:
    """The ledger columns a hand-off's outcome sets (``attempts`` counts this one): sent; or
    pending again after a back-off (a transient failure under the ceiling, or the provider's
    outage, which is never given up for); or failed, with the reason."""
    row: dict[str, Any] = {"id": delivery_id, "updated_at": now}
    if outcome.status == "sent":
        # a reason on a success is a note (member day: the notices sent)
        row.update(
            status=st.SENT, provider_id=outcome.provider_id, sent_at=now, reason=outcome.reason
        )
    elif outcome.outage or (outcome.status == "transient" and attempts < MAX_ATTEMPTS):
        # an outage is the provider's failure, not this message's: it waits (the attempt still
        # lengthens the back-off)
        word = "waiting" if outcome.outage else "retrying"
        delay = backoff(attempts, outcome.retry_after)
        row.update(
            status=st.PENDING,
            reason=f"{word}: {outcome.reason}",
            not_before=now + timedelta(seconds=delay),
        )
    else:
        reason = outcome.reason or "failed"
        if outcome.status == "transient":
            reason = f"gave up after {attempts} attempts: {reason}"
        row.update(status=st.FAILED, reason=reason[:500])
    return row
