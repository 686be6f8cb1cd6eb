"""Batch leases: a worker takes a batch under a lease whose attempt number is a fencing token,
gives it back on a pause, checks whether its campaign was paused or cancelled meanwhile (in the
same statement that renews the lease, so a chunk pays one round trip for both), and closes ledger
rows only while its own claim still holds them."""

from __future__ import annotations

from datetime import datetime, timedelta
from functools import cache
from typing import Any

from sqlalchemy import (
    and_,
    bindparam,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from herald.campaigns import status as st
from herald.campaigns.models import Batch, Campaign, Delivery
from herald.core import pgbulk


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


def write_held(session: Session, rows: list[dict[str, Any]], stamp: datetime | None) -> None:
    """Close ledger rows, but only those still ``sending`` under this worker's claim: a worker
    that lost its lease must not overwrite what the new holder recovered or sent. Rows that set
    the same columns are closed together: on PostgreSQL in one ``UPDATE … FROM unnest(…)`` of
    one array per column (a statement that compiles once per process, whatever the chunk's
    size), elsewhere in one executemany."""
    table = Delivery.__table__
    groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}
    for row in rows:
        groups.setdefault(tuple(sorted(row)), []).append(row)
    postgres = session.get_bind().dialect.name == "postgresql"
    for keys, group in groups.items():
        if postgres:
            params = pgbulk.params(table, keys, group)
            session.execute(
                _close_statement(keys), {**params, "sending": st.SENDING, "stamp": stamp}
            )
            continue
        held = (
            table.c.status == st.SENDING,
            table.c.claimed_at == bindparam("v_stamp", type_=table.c.claimed_at.type),
        )
        values = {k: bindparam(f"v_{k}", type_=table.c[k].type) for k in keys if k != "id"}
        statement = table.update().where(table.c.id == bindparam("v_id"), *held).values(**values)
        session.execute(
            statement, [{**{f"v_{k}": v for k, v in r.items()}, "v_stamp": stamp} for r in group]
        )


@cache
def _close_statement(keys: tuple[str, ...]) -> TextClause:
    sets = ", ".join(f"{k} = v.{k}" for k in keys if k != "id")
    return text(
        f"UPDATE deliveries AS d SET {sets} FROM {pgbulk.unnest(Delivery.__table__, keys)}"
        " WHERE d.id = v.id AND d.status = :sending AND d.claimed_at = :stamp"
    )
