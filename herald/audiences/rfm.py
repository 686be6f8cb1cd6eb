"""RFM scores, named groups and the favourite category (contract section 15), recomputed
set-based over the whole member table by a periodic task (:func:`recompute`).

Scores are quintiles over the live members who have ordered (members without an order have
null): ``rfm.recency`` by ``last_order_at``, ``rfm.frequency`` by ``orders_count`` and
``rfm.monetary`` by ``total_spent``, 5 being the most recent, most frequent and highest spend.
A member's score is ``1 + floor(5 × (rank − 1) / n)`` where ``rank`` is the SQL ``RANK()`` of
the value among the n buyers: NTILE(5) with ties kept together. Plain NTILE would split members
with the same value (say the many one-order members) across quintiles by chance, so two
identical members could get different scores; with RANK they share the lower one.

Groups come from the scores through :func:`group_of`, a pure function; the SQL applies the
same mapping as a CASE generated from it. The favourite category is the category with the most
spend (qty × price over all order lines; ties by name), null without categorised lines.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import text
from sqlalchemy.orm import Session

GROUPS: tuple[str, ...] = (
    "champions",
    "loyal",
    "potential",
    "new",
    "at_risk",
    "cant_lose",
    "hibernating",
    "lost",
)
GROUP_LABELS = {
    "champions": "Champions",
    "loyal": "Loyal",
    "potential": "Potential loyalists",
    "new": "New customers",
    "at_risk": "At risk",
    "cant_lose": "Can't lose them",
    "hibernating": "Hibernating",
    "lost": "Lost",
}
SCORES = (1, 2, 3, 4, 5)


def group_of(recency: int, frequency: int, monetary: int) -> str:
    """The named group of one member's scores (each 1–5). With ``value`` = the rounded-up mean
    of frequency and monetary, first match wins:

    - champions: recency ≥ 4 and value ≥ 4 (bought lately, buy often, spend much)
    - new: recency ≥ 4 and frequency 1 (a recent first order)
    - loyal: recency ≥ 3 and value ≥ 3
    - potential: recency ≥ 3 (recent, not yet frequent or big)
    - cant_lose: recency ≤ 2 and value ≥ 4 (were among the best, gone quiet)
    - at_risk: recency ≤ 2 and value 3
    - hibernating: recency 2 (value ≤ 2)
    - lost: recency 1 (value ≤ 2)
    """
    value = (frequency + monetary + 1) // 2
    if recency >= 4 and value >= 4:
        return "champions"
    if recency >= 4 and frequency == 1:
        return "new"
    if recency >= 3 and value >= 3:
        return "loyal"
    if recency >= 3:
        return "potential"
    if value >= 4:
        return "cant_lose"
    if value == 3:
        return "at_risk"
    return "hibernating" if recency == 2 else "lost"


def group_case(r: str, f: str, m: str) -> str:
    """``group_of`` as one SQL CASE over score columns (from the pure function's 125 answers)."""
    keys: dict[str, list[int]] = {g: [] for g in GROUPS}
    for rr in SCORES:
        for ff in SCORES:
            for mm in SCORES:
                keys[group_of(rr, ff, mm)].append(rr * 100 + ff * 10 + mm)
    key = f"({r} * 100 + {f} * 10 + {m})"
    whens = " ".join(
        f"WHEN {key} IN ({', '.join(map(str, k))}) THEN '{g}'" for g, k in keys.items() if k
    )
    return f"CASE {whens} END"


def _score(rank: str) -> str:
    return f"1 + (5 * ({rank} - 1)) / n"


BUYERS = "erased_at IS NULL AND orders_count > 0 AND last_order_at IS NOT NULL"


def score_statements(dialect: str) -> list[str]:
    """The SQL of a recompute: empty ``contact_scores``, then one INSERT … SELECT of every
    buyer's scores, group and favourite category. Readers keep seeing the old rows until the
    caller commits (a DELETE, not a TRUNCATE, so no lock shuts them out meanwhile)."""
    del dialect  # the same SQL runs on PostgreSQL and SQLite
    clear = "DELETE FROM contact_scores"
    # derived tables rather than WITH: SQLite reports no row count for a statement that
    # starts with WITH
    insert = f"""
INSERT INTO contact_scores (contact_id, rfm_recency, rfm_frequency, rfm_monetary, rfm_group,
                            favourite_category)
SELECT scored.id, scored.r, scored.f, scored.m, {group_case("scored.r", "scored.f", "scored.m")},
       favourite.category
FROM (
  SELECT id, {_score("r_rank")} AS r, {_score("f_rank")} AS f, {_score("m_rank")} AS m
  FROM (
    SELECT id,
           COUNT(*) OVER () AS n,
           RANK() OVER (ORDER BY last_order_at) AS r_rank,
           RANK() OVER (ORDER BY orders_count) AS f_rank,
           RANK() OVER (ORDER BY total_spent) AS m_rank
    FROM contacts WHERE {BUYERS}
  ) AS ranked
) AS scored
LEFT JOIN (
  SELECT contact_id, category FROM (
    SELECT contact_id, category,
           ROW_NUMBER() OVER (PARTITION BY contact_id ORDER BY amount DESC, category) AS pos
    FROM (
      SELECT contact_id, category, SUM(qty * price) AS amount
      FROM order_items WHERE contact_id IS NOT NULL AND category IS NOT NULL
      GROUP BY contact_id, category
    ) AS spend
  ) AS ranked_categories WHERE pos = 1
) AS favourite ON favourite.contact_id = scored.id"""
    return [clear, insert]


@dataclass
class Recomputed:
    """Rows a recompute removed (the previous scores) and wrote (one per buyer)."""

    removed: int
    scored: int

    def to_dict(self) -> dict[str, int]:
        return dict(self.__dict__)


def recompute(session: Session) -> Recomputed:
    """Recompute every member's RFM scores, group and favourite category in the caller's
    transaction: two set-based statements, whatever the number of members."""
    dialect = session.get_bind().dialect.name
    counts = [session.execute(text(sql)).rowcount for sql in score_statements(dialect)]
    session.expire_all()  # loaded members' scores are stale now
    return Recomputed(*(int(c or 0) for c in counts))


def overview(session: Session) -> dict[str, Any]:
    """Counts per group and the recency × frequency grid of the admin's RFM page."""
    live = "FROM contact_scores s JOIN contacts c ON c.id = s.contact_id WHERE c.erased_at IS NULL"
    groups = dict.fromkeys(GROUPS, 0)
    for name, count in session.execute(
        text(f"SELECT s.rfm_group, COUNT(*) {live} GROUP BY s.rfm_group")
    ):
        groups[name] = int(count)
    grid = {(r, f): 0 for r in SCORES for f in SCORES}
    for r, f, count in session.execute(
        text(f"SELECT s.rfm_recency, s.rfm_frequency, COUNT(*) {live} GROUP BY 1, 2")
    ):
        grid[(int(r), int(f))] = int(count)
    members = session.execute(
        text("SELECT COUNT(*) FROM contacts WHERE erased_at IS NULL")
    ).scalar_one()
    return {"groups": groups, "grid": grid, "unscored": int(members) - sum(groups.values())}
