"""Call revisions: the call's version counter, the revision its route follows, and its changes.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("intake_calls") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("decided_revision", sa.Integer(), nullable=True))
    op.create_table(
        "intake_call_changes",
        sa.Column("call_id", sa.String(36), sa.ForeignKey("intake_calls.call_id"), primary_key=True),
        sa.Column("revision", sa.Integer(), primary_key=True),
        sa.Column("change", sa.String(10), nullable=False),
        sa.Column("narrative", sa.Text(), nullable=True),
        sa.Column("call_type", sa.String(200), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("at", sa.DateTime(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("intake_call_changes")
    with op.batch_alter_table("intake_calls") as batch:
        batch.drop_column("decided_revision")
        batch.drop_column("revision")
