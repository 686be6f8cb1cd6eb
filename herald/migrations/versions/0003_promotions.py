"""promotions: promotions, and the promotion a campaign or journey belongs to

Revision ID: 0003_promotions
Revises: 0002_journeys
"""

import sqlalchemy as sa
from alembic import op

import herald.core.db

revision = "0003_promotions"
down_revision = "0003_behaviour"
branch_labels = None
depends_on = None

WHEN = herald.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "promotions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("starts_at", WHEN, nullable=False),
        sa.Column("ends_at", WHEN, nullable=False),
        sa.Column("goal_metric", sa.String(length=16), nullable=True),
        sa.Column("goal_target", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("budget", sa.Numeric(precision=14, scale=2), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("template", sa.String(length=40), nullable=True),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_promotions")),
    )
    with op.batch_alter_table("promotions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_promotions_starts_at"), ["starts_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_promotions_ends_at"), ["ends_at"], unique=False)
    for table in ("campaigns", "journeys"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("promotion_id", sa.Integer(), nullable=True))
            batch_op.create_index(
                batch_op.f(f"ix_{table}_promotion_id"), ["promotion_id"], unique=False
            )
            batch_op.create_foreign_key(
                batch_op.f(f"fk_{table}_promotion_id_promotions"),
                "promotions",
                ["promotion_id"],
                ["id"],
                ondelete="SET NULL",
            )


def downgrade() -> None:
    for table in ("journeys", "campaigns"):
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_constraint(
                batch_op.f(f"fk_{table}_promotion_id_promotions"), type_="foreignkey"
            )
            batch_op.drop_index(batch_op.f(f"ix_{table}_promotion_id"))
            batch_op.drop_column("promotion_id")
    op.drop_table("promotions")
