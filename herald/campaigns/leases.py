"""Batch leases: a worker takes a batch under a lease whose attempt number is a fencing token,
gives it back on a pause, checks whether its campaign was paused or cancelled meanwhile, and
closes ledger rows only while its own claim still holds them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, bindparam, or_, select, update
from sqlalchemy.orm import Session

from herald.campaigns import status as st
from herald.campaigns.models import Batch, Campaign, Delivery


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
    value = session.scalar(select(Campaign.status).where(Campaign.id == campaign_id))
    return value if value in ("paused", "cancelled") else None


def release(session: Session, batch_id: int, fence: int) -> None:
    session.execute(
        update(Batch)
        .where(Batch.id == batch_id, Batch.attempts == fence)
        .values(status="queued", lease_until=None, enqueued_at=None)
    )


def write_held(session: Session, rows: list[dict[str, Any]], stamp: datetime | None) -> None:
    """Close ledger rows, but only those still ``sending`` under this worker's claim: a worker
    that lost its lease must not overwrite what the new holder recovered or sent."""
    table = Delivery.__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    for keys, group in groups.items():
        values = {k: bindparam(f"v_{k}", type_=table.c[k].type) for k in keys if k != "id"}
        statement = (
            table.update()
            .where(
                table.c.id == bindparam("v_id"),
                table.c.status == st.SENDING,
                table.c.claimed_at == bindparam("v_stamp", type_=table.c.claimed_at.type),
            )
            .values(**values)
        )
        session.execute(
            statement, [{**{f"v_{k}": v for k, v in r.items()}, "v_stamp": stamp} for r in group]
        )
