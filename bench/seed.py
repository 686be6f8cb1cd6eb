"""Set-based seeding for the benchmarks (PostgreSQL): members, consents and events written by
``generate_series`` in the database, never row by row from Python."""

from __future__ import annotations

from typing import Any

TIERS = "ARRAY['new','bronze','silver','gold','platinum']"
CITIES = "ARRAY['Hangzhou','Shanghai','Beijing','Shenzhen','Chengdu']"


def members(sql: Any, count: int) -> None:
    """``count`` email-consenting members m<i>@bench.example, with tiers, points, cities."""
    sql(
        f"""
        INSERT INTO contacts (external_id, email, first_name, last_name, tier, points, timezone,
                              attributes, orders_count, total_spent, created_at, updated_at)
        SELECT 'x' || i, 'm' || i || '@bench.example', 'Name' || i, 'Li',
               ({TIERS})[1 + i % 5], (i * 7919) % 2000, 'Asia/Shanghai',
               jsonb_build_object('city', ({CITIES})[1 + (i / 5) % 5]),
               i % 7, (i % 97) * 10.5, now(), now()
        FROM generate_series(1, :n) AS i
        """,
        n=count,
    )
    sql(
        """
        INSERT INTO consents (contact_id, channel, granted, source, updated_at)
        SELECT id, 'email', true, 'bench', now() FROM contacts
        """
    )
    sql("ANALYZE contacts")
    sql("ANALYZE consents")
