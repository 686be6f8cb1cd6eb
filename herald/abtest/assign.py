"""Who gets which variant in an A/B test: the rules, as pure functions over ids and counts.

The audience is ordered by a salted multiplicative hash of the member id (deterministic per
campaign, unrelated to sign-up order); the first ``floor(test_fraction × N)`` members form the
test group, dealt round-robin to the variants so their sizes differ by at most one.
:mod:`herald.campaigns.ab_plan` writes exactly this into the ledger in one SQL statement.
"""

from __future__ import annotations

import math

# Knuth's multiplicative hash constant; products stay well inside 64-bit integers for any
# realistic member id, on SQLite and PostgreSQL alike
HASH_MULTIPLIER = 2654435761
HASH_MODULUS = 4294967296


def test_size(audience: int, fraction: float) -> int:
    """How many members the test group gets: ``fraction`` of the audience, rounded down."""
    return math.floor(audience * fraction + 1e-9)


def salt(campaign_id: int) -> int:
    """The campaign's salt for the hash order."""
    return campaign_id * 7919


def hash_order(member_id: int, campaign_id: int) -> int:
    """A member's place in the campaign's shuffled order (lower comes first)."""
    return ((member_id + salt(campaign_id)) * HASH_MULTIPLIER) % HASH_MODULUS


def assign(member_ids: list[int], campaign_id: int, fraction: float, variants: int) -> dict:
    """The plain-Python twin of the SQL split: member id → variant index for the test group,
    ``None`` for the held remainder."""
    size = test_size(len(member_ids), fraction)
    if size < variants:
        size = 0  # too small to test: everybody waits for the decision (the fallback)
    ordered = sorted(member_ids, key=lambda m: (hash_order(m, campaign_id), m))
    return {m: (rank % variants if rank < size else None) for rank, m in enumerate(ordered)}
