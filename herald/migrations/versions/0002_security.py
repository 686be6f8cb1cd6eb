"""users.session_version: a session or remember-me cookie names the version it was issued under;
logging out or changing the password bumps it, so copies of older cookies stop working.

Revision ID: 0002_security
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002_security"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(
            sa.Column("session_version", sa.Integer(), nullable=False, server_default="0")
        )


def downgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.drop_column("session_version")
