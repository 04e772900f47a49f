"""The version of each call that retention last cleared.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_calls") as batch:
        batch.add_column(sa.Column("redacted_as_of", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("intake_calls") as batch:
        batch.drop_column("redacted_as_of")
