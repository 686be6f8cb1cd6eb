"""journal_positions: how far each web process's tracking journal has been recorded

Revision ID: 0004_journal
Revises: 0003_perf
"""

import sqlalchemy as sa
from alembic import op

from herald.core.db import UTCDateTime

revision = "0004_journal"
down_revision = "0003_perf"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "journal_positions",
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("position", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", UTCDateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_journal_positions")),
    )


def downgrade() -> None:
    op.drop_table("journal_positions")
