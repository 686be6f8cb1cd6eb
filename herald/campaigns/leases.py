"""Batch leases: a worker takes a batch under a lease whose attempt number is a fencing token,
gives it back on a pause, and checks whether its campaign was paused or cancelled meanwhile (in
the same statement that renews the lease, so a chunk pays one round trip for both)."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import and_, or_, select, update
from sqlalchemy.orm import Session

from herald.campaigns.models import Batch, Campaign


def claim_batch(session: Session, batch_id: int, now: datetime, lease: timedelta) -> int | None:
    """Take the batch under a lease; returns the attempt number (the fencing token) or None when
    someone else holds it or it is finished."""
    claimed = session.execute(
        update(Batch)
        .where(
            Batch.id == batch_id,
            or_(
                and_(
                    Batch.status == "queued",
                    or_(Batch.lease_until.is_(None), Batch.lease_until <= now),
                ),
                and_(Batch.status == "running", Batch.lease_until <= now),
            ),
        )
        .values(status="running", lease_until=now + lease, attempts=Batch.attempts + 1)
    ).rowcount
    if claimed != 1:
        return None
    return session.scalar(select(Batch.attempts).where(Batch.id == batch_id))


def stop_reason(session: Session, campaign_id: int) -> str | None:
    """``paused`` or ``cancelled`` when the campaign was stopped, else None."""
    value = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    return _stop(value)


def _stop(status: str | None) -> str | None:
    return status if status in ("paused", "cancelled") else None


def renew(
    session: Session, batch_id: int, fence: int, campaign_id: int, until: datetime
) -> tuple[bool, str | None]:
    """Extend the lease to ``until`` while this worker still holds it, and read the campaign's
    stop reason in the same statement: ``(held, stop)``; ``(False, None)`` once another worker
    holds the batch."""
    batches = Batch.__table__
    status = select(Campaign.status).where(Campaign.id == campaign_id).scalar_subquery()
    row = session.execute(
        batches.update()
        .where(batches.c.id == batch_id, batches.c.attempts == fence, batches.c.status == "running")
        .values(lease_until=until)
        .returning(status)
    ).first()
    return (False, None) if row is None else (True, _stop(row[0]))


def release(session: Session, batch_id: int, fence: int) -> None:
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.attempts == fence)
        .values(status="queued", lease_until=None, enqueued_at=None)
    )
