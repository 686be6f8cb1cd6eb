"""campaigns.pause_reason: why Herald paused a campaign by itself

Revision ID: 0002_templates
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_templates"
down_revision = "0002_security"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.add_column(sa.Column("pause_reason", sa.String(length=500), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("campaigns") as batch:
        batch.drop_column("pause_reason")
