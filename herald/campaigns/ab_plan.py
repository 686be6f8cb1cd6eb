"""Planning an A/B run: splitting its audience in SQL.

The audience is ordered by a salted multiplicative hash of the member id (deterministic per
campaign, unrelated to sign-up order); the first ``floor(test_fraction × N)`` members form the
test group, dealt round-robin to the variants so their sizes differ by at most one. The rest are
written to the ledger as ``held`` with no variant, in ``held`` batches that the decision
releases with the winner.

With a per-member schedule (``local_time``, ``smart``: ``timed``) the test group goes out at
once when the run starts (the schedule's start: when its day or time first arrives on Earth),
and ``decide_after_hours`` counts from then. The rest keep their own moment (``not_before``),
in batches cut in the order of those moments: after the decision each batch sleeps until its
first member's moment, and members whose moment passed before the decision get the winner at
the decision.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import BigInteger, case, cast, func, insert, literal, select
from sqlalchemy.orm import Session

from herald.abtest.assign import HASH_MODULUS, HASH_MULTIPLIER, salt, test_size
from herald.campaigns import status as st
from herald.campaigns import wakeups
from herald.campaigns.models import Batch, Campaign, Delivery, Run
from herald.core.db import UTCDateTime


def plan_test(
    session: Session,
    run: Run,
    campaign: Campaign,
    members: Any,
    batch_size: int,
    now: datetime,
    timed: bool = False,
) -> Run:
    """Write the ledger of an A/B run: test rows ``pending`` with their variant, the rest ``held``.
    Creates the batches (held ones for the remainder) and starts the test window. ``timed``:
    ``members`` carries each member's moment (``due``), which the remainder keeps."""
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
    due = members.c.due if timed else literal(None, UTCDateTime())
    ranked = select(members.c.id.label("id"), rank.label("rank"), due.label("due")).subquery()
    in_test = ranked.c.rank < size
    # the rest are cut into batches in the order they fall due (by hash without a moment)
    rest_order = (ranked.c.due, ranked.c.id) if timed else (ranked.c.rank,)
    rest_position = func.row_number().over(partition_by=in_test, order_by=rest_order) - 1
    placed = select(ranked, rest_position.label("rest_position")).subquery()
    in_test = placed.c.rank < size
    test_batches = -(-size // batch_size)
    variant = case(
        *[(in_test & (placed.c.rank % len(variants) == i), vid) for i, vid in enumerate(variants)],
        else_=None,
    )
    batch_seq = case(
        (in_test, placed.c.rank // batch_size),
        else_=test_batches + placed.c.rest_position // batch_size,
    )
    source = select(
        literal(run.id),
        placed.c.id,
        variant,
        batch_seq,
        case((in_test, literal(st.PENDING)), else_=literal(st.HELD)),
        literal(0),
        literal(False),
        case((in_test, literal(None, UTCDateTime())), else_=placed.c.due),
    )
    session.execute(
        insert(Delivery).from_select(
            [
                "run_id",
                "contact_id",
                "variant_id",
                "batch_seq",
                "status",
                "attempts",
                "uncertain",
                "not_before",
            ],
            source,
        )
    )
    held_batches = -(-(audience - size) // batch_size)
    rows = [
        {"run_id": run.id, "seq": seq, "status": "queued", "enqueued_at": now}
        for seq in range(test_batches)
    ] + wakeups.batch_rows(
        session, run.id, range(test_batches, test_batches + held_batches), "held", now
    )
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
