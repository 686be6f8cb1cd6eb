"""contacts.best_hour: each member's local hour of most human opens and clicks (send time).

Revision ID: 0003_sendtime
Revises: 0002_journeys
"""

import sqlalchemy as sa
from alembic import op

revision = "0003_sendtime"
down_revision = "0002_journeys"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.add_column(sa.Column("best_hour", sa.SmallInteger(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("contacts") as batch:
        batch.drop_column("best_hour")
