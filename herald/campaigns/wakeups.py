"""When the batches of a run wake: a batch whose first member's moment (``not_before``) is
still ahead sleeps under its lease until then; the scheduler's tick enqueues it when the lease
has passed (no far-future Celery eta: the database holds what is due)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, or_, select, update
from sqlalchemy.orm import Session

from herald.campaigns.models import Batch, Delivery


def batch_rows(
    session: Session, run_id: int, seqs: Iterable[int], status: str, now: datetime
) -> list[dict[str, Any]]:
    """Batch rows for ``seqs`` of a run whose ledger is written. A ``queued`` batch due now is
    marked enqueued (the caller enqueues it after commit); a ``held`` one waits for the A/B
    decision, which wakes it (see :func:`release_held`)."""
    wake = dict(
        session.execute(
            select(Delivery.batch_seq, func.min(Delivery.not_before))
            .where(Delivery.run_id == run_id)
            .group_by(Delivery.batch_seq)
        ).all()
    )
    return [
        {
            "run_id": run_id,
            "seq": seq,
            "status": status,
            "lease_until": wake[seq] if sleeping else None,
            "enqueued_at": now if status == "queued" and not sleeping else None,
        }
        for seq in seqs
        for sleeping in [wake.get(seq) is not None and wake[seq] > now]
    ]


def release_held(session: Session, run_id: int, now: datetime) -> list[int]:
    """Turn a run's ``held`` batches into ``queued`` ones. Returns the ids of those due now (to
    enqueue after commit); a batch whose members' moments are still ahead keeps sleeping until
    its lease passes, when the tick enqueues it."""
    awake = or_(Batch.lease_until.is_(None), Batch.lease_until <= now)
    due_now = list(
        session.scalars(
            update(Batch)
            .where(Batch.run_id == run_id, Batch.status == "held", awake)
            .values(status="queued", lease_until=None, enqueued_at=now)
            .returning(Batch.id)
        )
    )
    session.execute(
        update(Batch)
        .where(and_(Batch.run_id == run_id, Batch.status == "held"))
        .values(status="queued", enqueued_at=None)
    )
    return due_now
