"""Set-based seeding for the benchmarks (PostgreSQL): members, consents and events written by
``generate_series`` in the database, never row by row from Python."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

PG = os.environ.get("HERALD_TEST_DATABASE_URL", "postgresql://root@127.0.0.1:5432/test")

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


@contextmanager
def scratch_database(template: str | None = None, prefix: str = "herald_bench") -> Iterator[str]:
    """A new PostgreSQL database on the server of HERALD_TEST_DATABASE_URL (a copy of
    ``template`` when given), dropped afterwards with whatever is still connected to it. The
    test suite's databases come from here too."""
    from herald.core.settings import normalise_database_url

    admin_url = normalise_database_url(PG)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    name = f"{prefix}_{os.getpid()}_{secrets.token_hex(3)}"
    copied = f' TEMPLATE "{template}"' if template else ""
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"{copied}'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()
