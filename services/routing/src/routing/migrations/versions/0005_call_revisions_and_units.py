"""Re-routing on triage revisions: the revision routed, a suggested lesser route, the staging flag,
the route whose unit an escalated call still waits for, and the units added to a call.

Revision ID: 0005
Revises: 0004
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("routing_calls") as batch:
        batch.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="1"))
        batch.add_column(sa.Column("suggested_route", sa.String(20), nullable=True))
        batch.add_column(sa.Column("staging", sa.Boolean(), nullable=False, server_default=sa.false()))
        batch.add_column(sa.Column("awaiting_route", sa.String(20), nullable=True))
    # A freed unit looks for escalated calls still waiting for one, as it looks at the queue.
    op.create_index("ix_routing_calls_awaiting_route", "routing_calls", ["awaiting_route"])
    op.create_table(
        "routing_call_units",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("unit_id", sa.String(64), primary_key=True),
        sa.Column("unit_type", sa.String(20), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("distance_km", sa.Float(), nullable=True),
        sa.Column("fallback_used", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("assigned_at", sa.DateTime(), nullable=False),
        sa.Column("released_at", sa.DateTime(), nullable=True),
    )
    op.create_index("ix_routing_call_units_unit_id", "routing_call_units", ["unit_id"])


def downgrade() -> None:
    op.drop_index("ix_routing_call_units_unit_id", table_name="routing_call_units")
    op.drop_table("routing_call_units")
    op.drop_index("ix_routing_calls_awaiting_route", table_name="routing_calls")
    with op.batch_alter_table("routing_calls") as batch:
        batch.drop_column("awaiting_route")
        batch.drop_column("staging")
        batch.drop_column("suggested_route")
        batch.drop_column("revision")
