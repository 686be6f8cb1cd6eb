"""Migration 0003 gives every member who existed before it a readable, unique referral code."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, text

from herald.core import codes
from herald.core.migrate import upgrade


def test_existing_members_get_unique_codes(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    upgrade(url, "0002_journeys")
    engine = create_engine(url)
    with engine.begin() as conn:
        for i in range(30):
            conn.execute(
                text(
                    "INSERT INTO contacts (email, tier, points, attributes, orders_count,"
                    " total_spent, created_at, updated_at) VALUES (:e, 'new', 0, '{}', 0, 0,"
                    " '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
                ),
                {"e": f"m{i}@shop.cn"},
            )
    upgrade(url)
    with engine.connect() as conn:
        found = conn.execute(text("SELECT referral_code FROM contacts")).scalars().all()
    engine.dispose()
    assert len(found) == 30 and len(set(found)) == 30
    assert all(codes.normalise_referral(code) == code for code in found)
