"""Planning an A/B run: splitting its audience in SQL.

The audience is ordered by a salted multiplicative hash of the member id (deterministic per
campaign, unrelated to sign-up order); the first ``floor(test_fraction × N)`` members form the
test group, dealt round-robin to the variants so their sizes differ by at most one. The rest are
written to the ledger as ``held`` with no variant, in ``held`` batches that the decision
releases with the winner.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, case, cast, func, insert, literal, select
from sqlalchemy.orm import Session

from herald.abtest.assign import HASH_MODULUS, HASH_MULTIPLIER, salt, test_size
from herald.campaigns import status as st
from herald.campaigns.models import Batch, Campaign, Delivery, Run


def plan_test(
    session: Session,
    run: Run,
    campaign: Campaign,
    members: Any,
    batch_size: int,
    now: datetime,
) -> Run:
    """Write the ledger of an A/B run: test rows ``pending`` with their variant, the rest ``held``.
    Creates the batches (held ones for the remainder) and starts the test window."""
    ab = campaign.ab_test or {}
    variants = [v.id for v in campaign.variants]
    audience = session.scalar(select(func.count()).select_from(members)) or 0
    size = test_size(audience, float(ab.get("test_fraction", 0.2)))
    if size < len(variants):
        size = 0  # too small to test: everybody waits for the decision (the fallback)
    order = (
        (cast(members.c.id, BigInteger) + salt(campaign.id))
        * literal(HASH_MULTIPLIER, BigInteger)
        % literal(HASH_MODULUS, BigInteger)
    )
    rank = func.row_number().over(order_by=(order, members.c.id)) - 1
    ranked = select(members.c.id.label("id"), rank.label("rank")).subquery()
    in_test = ranked.c.rank < size
    test_batches = -(-size // batch_size)
    variant = case(
        *[(in_test & (ranked.c.rank % len(variants) == i), vid) for i, vid in enumerate(variants)],
        else_=None,
    )
    batch_seq = case(
        (in_test, ranked.c.rank // batch_size),
        else_=test_batches + (ranked.c.rank - size) // batch_size,
    )
    source = select(
        literal(run.id),
        ranked.c.id,
        variant,
        batch_seq,
        case((in_test, literal(st.PENDING)), else_=literal(st.HELD)),
        literal(0),
        literal(False),
    )
    session.execute(
        insert(Delivery).from_select(
            ["run_id", "contact_id", "variant_id", "batch_seq", "status", "attempts", "uncertain"],
            source,
        )
    )
    held_batches = -(-(audience - size) // batch_size)
    rows = [
        {"run_id": run.id, "seq": seq, "status": "queued", "enqueued_at": now}
        for seq in range(test_batches)
    ] + [
        {"run_id": run.id, "seq": test_batches + seq, "status": "held"}
        for seq in range(held_batches)
    ]
    if rows:
        session.execute(insert(Batch), rows)
    run.recipients = audience
    run.batches_total = len(rows)
    run.status = "testing"
    run.decide_at = now + timedelta(hours=float(ab.get("decide_after_hours", 4)))
    campaign.status = "testing"
    campaign.ab_test = {**ab, "run_id": run.id, "test_size": size, "decision": None}
    session.flush()
    return run
