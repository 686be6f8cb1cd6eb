"""journeys: journeys, member entries and step visits

Revision ID: 0002_journeys
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import herald.core.db

revision = "0002_journeys"
down_revision = "0002_templates"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
WHEN = herald.core.db.UTCDateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "journeys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("definition", JSON, nullable=False),
        sa.Column("step_campaigns", JSON, nullable=False),
        sa.Column("created_at", WHEN, nullable=False),
        sa.Column("updated_at", WHEN, nullable=False),
        sa.Column("activated_at", WHEN, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journeys")),
        sa.UniqueConstraint("name", name=op.f("uq_journeys_name")),
    )
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_journeys_status"), ["status"], unique=False)
    op.create_table(
        "journey_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("wake_at", WHEN, nullable=True),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("exit_reason", sa.String(length=40), nullable=True),
        sa.Column("holdout", sa.Boolean(), nullable=False),
        sa.Column("occasion", sa.String(length=40), nullable=True),
        sa.Column("data", JSON, nullable=True),
        sa.Column("entered_at", WHEN, nullable=False),
        sa.Column("finished_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_journey_entries_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_entries_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_entries")),
        sa.UniqueConstraint(
            "journey_id",
            "contact_id",
            "occasion",
            name=op.f("uq_journey_entries_journey_id_contact_id_occasion"),
        ),
    )
    with op.batch_alter_table("journey_entries", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journey_entries_due", ["journey_id", "state", "step", "wake_at"], unique=False
        )
        batch_op.create_index("ix_journey_entries_contact", ["contact_id", "state"], unique=False)
    op.create_table(
        "journey_visits",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("entry_id", sa.Integer(), nullable=False),
        sa.Column("step", sa.String(length=64), nullable=False),
        sa.Column("came_from", sa.String(length=64), nullable=True),
        sa.Column("at", WHEN, nullable=False),
        sa.Column("delivery_id", sa.BigInteger(), nullable=True),
        sa.Column("outcome", sa.String(length=16), nullable=True),
        sa.ForeignKeyConstraint(
            ["entry_id"],
            ["journey_entries.id"],
            name=op.f("fk_journey_visits_entry_id_journey_entries"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_visits_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_visits")),
        sa.UniqueConstraint("entry_id", "step", name=op.f("uq_journey_visits_entry_id_step")),
    )
    with op.batch_alter_table("journey_visits", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journey_visits_journey_step", ["journey_id", "step"], unique=False
        )
        batch_op.create_index(
            batch_op.f("ix_journey_visits_delivery_id"), ["delivery_id"], unique=False
        )


def downgrade() -> None:
    op.drop_table("journey_visits")
    op.drop_table("journey_entries")
    op.drop_table("journeys")
