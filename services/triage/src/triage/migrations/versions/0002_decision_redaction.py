"""When retention blanked a decision's matched text.

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
    with op.batch_alter_table("triage_decisions") as batch:
        batch.add_column(sa.Column("redacted_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triage_decisions") as batch:
        batch.drop_column("redacted_at")
