"""Dispatcher overrides, each kept beside the system's decision on the call, and why the field
asked for a unit added as backup (on the unit, or on the call while it waits for one).

Revision ID: 0006
Revises: 0005
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_overrides",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("overridden_at", sa.DateTime(), nullable=False),
        sa.Column("by", sa.String(100), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("from_route", sa.String(20), nullable=False),
        sa.Column("to_route", sa.String(20), nullable=False),
        sa.Column("from_unit_id", sa.String(64), nullable=True),
        sa.Column("to_unit_id", sa.String(64), nullable=True),
    )
    op.create_index("ix_routing_overrides_call_id", "routing_overrides", ["call_id"])
    with op.batch_alter_table("routing_call_units") as batch:
        batch.add_column(sa.Column("backup_reason", sa.Text(), nullable=True))
    with op.batch_alter_table("routing_calls") as batch:
        batch.add_column(sa.Column("awaiting_backup", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_calls") as batch:
        batch.drop_column("awaiting_backup")
    with op.batch_alter_table("routing_call_units") as batch:
        batch.drop_column("backup_reason")
    op.drop_index("ix_routing_overrides_call_id", table_name="routing_overrides")
    op.drop_table("routing_overrides")
