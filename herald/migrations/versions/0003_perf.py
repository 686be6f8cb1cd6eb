"""events: indexes on run_id (a run's metrics, the weekly report) and (delivery_id, type)
(feedback and results look events up by delivery)

Revision ID: 0003_perf
Revises: 0002_journeys
"""

from alembic import op

revision = "0003_perf"
down_revision = "0003_coupons"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_events_run_id", "events", ["run_id"])
    op.create_index("ix_events_delivery_type", "events", ["delivery_id", "type"])


def downgrade() -> None:
    op.drop_index("ix_events_delivery_type", table_name="events")
    op.drop_index("ix_events_run_id", table_name="events")
