"""coupons: coupon types (amount off, min spend, free shipping, gift, points multiplier), the
redeeming order's total, refused attempts; tier benefits as configuration

Revision ID: 0003_coupons
Revises: 0002_journeys
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import herald.core.db

revision = "0003_coupons"
down_revision = "0003_promotions"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
WHEN = herald.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("type", sa.String(length=24), server_default="coupon", nullable=False)
        )
        batch_op.alter_column("percent_off", existing_type=sa.Integer(), nullable=True)
        batch_op.add_column(sa.Column("amount_off", sa.Numeric(12, 2), nullable=True))
        batch_op.add_column(sa.Column("min_spend", sa.Numeric(12, 2), nullable=True))
        batch_op.add_column(sa.Column("sku", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("multiplier", sa.Float(), nullable=True))
        batch_op.add_column(sa.Column("order_total", sa.Numeric(14, 2), nullable=True))
        batch_op.add_column(sa.Column("refused_reason", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("refused_at", WHEN, nullable=True))
    op.create_table(
        "tier_benefits",
        sa.Column("tier", sa.String(length=16), nullable=False),
        sa.Column("benefits", JSON, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.PrimaryKeyConstraint("tier", name=op.f("pk_tier_benefits")),
    )


def downgrade() -> None:
    op.drop_table("tier_benefits")
    with op.batch_alter_table("coupons", schema=None) as batch_op:
        for column in (
            "refused_at",
            "refused_reason",
            "order_total",
            "multiplier",
            "sku",
            "min_spend",
            "amount_off",
            "type",
        ):
            batch_op.drop_column(column)
        batch_op.alter_column("percent_off", existing_type=sa.Integer(), nullable=False)
