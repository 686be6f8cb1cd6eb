"""journeys, more: triggers run as journeys (journeys.trigger_id, and a journey for every
existing trigger), one active entry per member and journey (a unique partial index), segment
entry for new joiners only (journey_segment_members and a watermark), and journey_signals
(events a webhook leaves for the tick instead of waiting for its locks).

Revision ID: 0003_journeys_more
Revises: 0002_journeys
"""

from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy import Text
from sqlalchemy.dialects import postgresql

import herald.core.db

revision = "0003_journeys_more"
down_revision = "0003_sendtime"
branch_labels = None
depends_on = None

JSON = sa.JSON().with_variant(postgresql.JSONB(astext_type=Text()), "postgresql")
WHEN = herald.core.db.UTCDateTime(timezone=True)
ACTIVE = sa.text("state = 'active'")


def upgrade() -> None:
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.add_column(sa.Column("trigger_id", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("segment_watched_at", WHEN, nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_journeys_trigger_id"), ["trigger_id"])
        batch_op.create_foreign_key(
            batch_op.f("fk_journeys_trigger_id_triggers"),
            "triggers",
            ["trigger_id"],
            ["id"],
            ondelete="CASCADE",
        )
    # a race of the old code may have left a member twice in a journey: the later entries end
    op.execute(
        "UPDATE journey_entries SET state = 'exited', exit_reason = 'duplicate' "
        "WHERE state = 'active' AND id NOT IN (SELECT min(id) FROM journey_entries "
        "WHERE state = 'active' GROUP BY journey_id, contact_id)"
    )
    with op.batch_alter_table("journey_entries", schema=None) as batch_op:
        batch_op.create_index(
            "uq_journey_entries_active_member",
            ["journey_id", "contact_id"],
            unique=True,
            postgresql_where=ACTIVE,
            sqlite_where=ACTIVE,
        )
    op.create_table(
        "journey_segment_members",
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("joined_at", WHEN, nullable=True),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_journey_segment_members_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_segment_members_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("journey_id", "contact_id", name=op.f("pk_journey_segment_members")),
    )
    op.create_table(
        "journey_signals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("journey_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("event_type", sa.String(length=40), nullable=False),
        sa.Column("at", WHEN, nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"],
            ["contacts.id"],
            name=op.f("fk_journey_signals_contact_id_contacts"),
            ondelete="CASCADE",
        ),
        sa.ForeignKeyConstraint(
            ["journey_id"],
            ["journeys.id"],
            name=op.f("fk_journey_signals_journey_id_journeys"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_journey_signals")),
    )
    with op.batch_alter_table("journey_signals", schema=None) as batch_op:
        batch_op.create_index(
            "ix_journey_signals_journey", ["journey_id", "event_type"], unique=False
        )
    _triggers_to_journeys()


def _definition(trigger: Any, channel: str, variants: list[dict[str, Any]]) -> dict[str, Any]:
    """The journey a trigger is, as herald.journeys.triggers.definition built it at this
    revision (frozen here: later changes to that module must not change this migration)."""
    send = {
        "id": "send",
        "type": "message",
        "channel": channel,
        "variants": variants,
        "transactional": bool(trigger.transactional),
        "next": "exit",
    }
    steps: list[dict[str, Any]] = [send]
    if trigger.delay_minutes and trigger.delay_minutes > 0:
        wait = {"id": "wait", "type": "wait", "minutes": trigger.delay_minutes, "next": "send"}
        steps = [wait, send]
    most = trigger.max_per_contact_days
    return {
        "name": f"Trigger #{trigger.id}: {trigger.name}"[:200],
        "entry": {"event": trigger.event, "filter": trigger.filter},
        "exit_on": [trigger.cancel_on] if trigger.cancel_on else [],
        "re_entry": {"after_days": most, "count_exits": False} if most else "after_exit",
        "holdout": 0.0,
        "steps": steps,
    }


def _triggers_to_journeys() -> None:
    """Every existing trigger gets its journey. Messages already waiting in its day runs stay
    in the ledger and go out as they were due (their runs now close when done)."""
    triggers = sa.table(
        "triggers",
        sa.column("id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("event", sa.String),
        sa.column("filter", JSON),
        sa.column("delay_minutes", sa.Float),
        sa.column("cancel_on", sa.String),
        sa.column("max_per_contact_days", sa.Float),
        sa.column("transactional", sa.Boolean),
        sa.column("active", sa.Boolean),
        sa.column("campaign_id", sa.Integer),
        sa.column("created_at", WHEN),
    )
    campaigns = sa.table("campaigns", sa.column("id", sa.Integer), sa.column("channel", sa.String))
    variants = sa.table(
        "variants",
        sa.column("campaign_id", sa.Integer),
        sa.column("name", sa.String),
        sa.column("position", sa.Integer),
        sa.column("content", JSON),
    )
    journeys = sa.table(
        "journeys",
        sa.column("name", sa.String),
        sa.column("status", sa.String),
        sa.column("definition", JSON),
        sa.column("step_campaigns", JSON),
        sa.column("created_at", WHEN),
        sa.column("updated_at", WHEN),
        sa.column("activated_at", WHEN),
        sa.column("trigger_id", sa.Integer),
    )
    bind = op.get_bind()
    rows = bind.execute(
        sa.select(triggers, campaigns.c.channel).join(
            campaigns, campaigns.c.id == triggers.c.campaign_id
        )
    ).all()
    for row in rows:
        content = bind.execute(
            sa.select(variants.c.name, variants.c.content)
            .where(variants.c.campaign_id == row.campaign_id)
            .order_by(variants.c.position)
        ).all()
        made = [{"name": name, **(body or {})} for name, body in content]
        bind.execute(
            journeys.insert().values(
                name=f"Trigger #{row.id}",
                status="active" if row.active else "paused",
                definition=_definition(row, row.channel, made),
                step_campaigns={"send": row.campaign_id},
                created_at=row.created_at,
                updated_at=row.created_at,
                activated_at=row.created_at,
                trigger_id=row.id,
            )
        )


def downgrade() -> None:
    op.execute("DELETE FROM journeys WHERE trigger_id IS NOT NULL")
    op.drop_table("journey_signals")
    op.drop_table("journey_segment_members")
    with op.batch_alter_table("journey_entries", schema=None) as batch_op:
        batch_op.drop_index(
            "uq_journey_entries_active_member", postgresql_where=ACTIVE, sqlite_where=ACTIVE
        )
    with op.batch_alter_table("journeys", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("fk_journeys_trigger_id_triggers"), type_="foreignkey")
        batch_op.drop_constraint(batch_op.f("uq_journeys_trigger_id"), type_="unique")
        batch_op.drop_column("segment_watched_at")
        batch_op.drop_column("trigger_id")
