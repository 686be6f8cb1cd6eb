"""behaviour: order items, points lots, contact scores (RFM scores and group, favourite
category), points expiry and referral codes on contacts (existing members get a code here)

Revision ID: 0003_behaviour
Revises: 0002_journeys
"""

import sqlalchemy as sa
from alembic import op

import herald.core.db
from herald.core import codes

revision = "0003_behaviour"
down_revision = "0003_journeys_more"
branch_labels = None
depends_on = None

WHEN = herald.core.db.UTCDateTime(timezone=True)
BIGID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
BACKFILL_CHUNK = 5000


def upgrade() -> None:
    columns = [
        sa.Column("points_expiring", sa.Integer(), nullable=True),
        sa.Column("points_expire_at", sa.Date(), nullable=True),
        sa.Column("referral_code", sa.String(length=16), nullable=True),
    ]
    for column in columns:
        op.add_column("contacts", column)
    op.add_column("contacts", sa.Column("referred_by_id", sa.Integer(), nullable=True))
    _backfill_referral_codes()
    op.create_index("ix_contacts_points_expire_at", "contacts", ["points_expire_at"])
    op.create_index("ix_contacts_referral_code", "contacts", ["referral_code"], unique=True)

    op.create_table(
        "contact_scores",
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("rfm_recency", sa.SmallInteger(), nullable=False),
        sa.Column("rfm_frequency", sa.SmallInteger(), nullable=False),
        sa.Column("rfm_monetary", sa.SmallInteger(), nullable=False),
        sa.Column("rfm_group", sa.String(length=16), nullable=False),
        sa.Column("favourite_category", sa.String(length=255), nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_contact_scores_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_contact_scores")),
    )
    op.create_table(
        "order_items",
        sa.Column("id", BIGID, nullable=False),
        sa.Column("event_id", BIGID, nullable=False),
        sa.Column("line", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=True),
        sa.Column("order_id", sa.String(length=255), nullable=False),
        sa.Column("sku", sa.String(length=255), nullable=True),
        sa.Column("name", sa.String(length=500), nullable=True),
        sa.Column("category", sa.String(length=255), nullable=True),
        sa.Column("qty", sa.Integer(), nullable=False),
        sa.Column("price", sa.Numeric(precision=14, scale=2), nullable=False),
        sa.Column("placed_at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_order_items_contact_id_contacts"),
            ondelete="SET NULL",
        ),
        sa.ForeignKeyConstraint(
            ["event_id"],
            ["events.id"],
            name=op.f("fk_order_items_event_id_events"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_order_items")),
        sa.UniqueConstraint("event_id", "line", name=op.f("uq_order_items_event_id_line")),
    )
    op.create_index("ix_order_items_contact_at", "order_items", ["contact_id", "placed_at"])
    op.create_index("ix_order_items_sku", "order_items", ["sku", "placed_at", "contact_id"])
    op.create_index(
        "ix_order_items_category", "order_items", ["category", "placed_at", "contact_id"]
    )
    op.create_table(
        "points_lots",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("points", sa.Integer(), nullable=False),
        sa.Column("expires_at", sa.Date(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_points_lots_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_points_lots")),
    )
    op.create_index("ix_points_lots_contact_id", "points_lots", ["contact_id"])
    op.create_index("ix_points_lots_expires_contact", "points_lots", ["expires_at", "contact_id"])


def _backfill_referral_codes() -> None:
    """Every existing member gets a readable, unique code (in chunks, by id)."""
    bind = op.get_bind()
    contacts = sa.table("contacts", sa.column("id", sa.Integer), sa.column("referral_code"))
    last = 0
    while True:
        ids = bind.execute(
            sa.select(contacts.c.id)
            .where(contacts.c.id > last)
            .order_by(contacts.c.id)
            .limit(BACKFILL_CHUNK)
        ).scalars().all()
        if not ids:
            return
        bind.execute(
            contacts.update()
            .where(contacts.c.id == sa.bindparam("b_id"))
            .values(referral_code=sa.bindparam("b_code")),
            [{"b_id": i, "b_code": codes.referral_code()} for i in ids],
        )
        last = ids[-1]


def downgrade() -> None:
    op.drop_index("ix_points_lots_expires_contact", table_name="points_lots")
    op.drop_index("ix_points_lots_contact_id", table_name="points_lots")
    op.drop_table("points_lots")
    op.drop_index("ix_order_items_category", table_name="order_items")
    op.drop_index("ix_order_items_sku", table_name="order_items")
    op.drop_index("ix_order_items_contact_at", table_name="order_items")
    op.drop_table("order_items")
    op.drop_index("ix_contacts_referral_code", table_name="contacts")
    op.drop_index("ix_contacts_points_expire_at", table_name="contacts")
    op.drop_table("contact_scores")
    with op.batch_alter_table("contacts") as batch:
        for name in (
            "referred_by_id",
            "referral_code",
            "points_expire_at",
            "points_expiring",
        ):
            batch.drop_column(name)
