"""Eligible calls not served as triaged (one row per reason), and units' own service hours and
zones.

Revision ID: 0007
Revises: 0006
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_unserved",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(36), nullable=False),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("reason", sa.String(40), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("call_id", "reason", name="uq_routing_unserved_call_reason"),
    )
    op.create_index("ix_routing_unserved_call_id", "routing_unserved", ["call_id"])
    with op.batch_alter_table("routing_units") as batch:
        batch.add_column(sa.Column("service_hours", sa.Text(), nullable=True))
        batch.add_column(sa.Column("zones", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_units") as batch:
        batch.drop_column("zones")
        batch.drop_column("service_hours")
    op.drop_index("ix_routing_unserved_call_id", table_name="routing_unserved")
    op.drop_table("routing_unserved")
