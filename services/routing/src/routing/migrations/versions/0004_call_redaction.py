"""The version of each routed call that retention last cleared.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_calls") as batch:
        batch.add_column(sa.Column("redacted_as_of", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_calls") as batch:
        batch.drop_column("redacted_as_of")
