"""Unit roster, dispatch lock, and the lifecycle and outcome columns of routed calls.

Revision ID: 0002
Revises: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

CALL_COLUMNS = [
    sa.Column("address", sa.String(500), nullable=True),
    sa.Column("threat_level", sa.String(20), nullable=True),
    sa.Column("crisis", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("needs_review", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("ems_required", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("decision", sa.Text(), nullable=True),
    sa.Column("unit_id", sa.String(64), nullable=True),
    sa.Column("unit_type", sa.String(20), nullable=True),
    sa.Column("fallback_used", sa.Boolean(), nullable=False, server_default=sa.false()),
    sa.Column("distance_km", sa.Float(), nullable=True),
    sa.Column("disposition", sa.String(40), nullable=True),
    sa.Column("use_of_force", sa.Boolean(), nullable=True),
    sa.Column("notes", sa.Text(), nullable=True),
    sa.Column("assigned_at", sa.DateTime(), nullable=True),
    sa.Column("en_route_at", sa.DateTime(), nullable=True),
    sa.Column("on_scene_at", sa.DateTime(), nullable=True),
    sa.Column("resolved_at", sa.DateTime(), nullable=True),
    sa.Column("cancelled_at", sa.DateTime(), nullable=True),
    sa.Column("updated_at", sa.DateTime(), nullable=True),
    sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
]


def upgrade() -> None:
    with op.batch_alter_table("routing_calls") as batch:
        for column in CALL_COLUMNS:
            batch.add_column(column)
    op.execute("UPDATE routing_calls SET updated_at = routed_at WHERE updated_at IS NULL")
    with op.batch_alter_table("routing_calls") as batch:
        batch.alter_column("updated_at", existing_type=sa.DateTime(), nullable=False)
    op.create_index("ix_routing_calls_unit_id", "routing_calls", ["unit_id"])
    # The queue is read in dispatch order; insights read by time window.
    op.create_index("ix_routing_calls_queue", "routing_calls", ["status", "priority", "received_at"])
    op.create_index("ix_routing_calls_received_at", "routing_calls", ["received_at"])

    op.create_table(
        "routing_units",
        sa.Column("unit_id", sa.String(64), primary_key=True),
        sa.Column("type", sa.String(20), nullable=False),
        sa.Column("name", sa.String(100), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("current_call_id", sa.String(36), nullable=True),
        sa.Column("available_since", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False, server_default="0"),
    )
    op.create_index("ix_routing_units_type", "routing_units", ["type"])
    op.create_index("ix_routing_units_status", "routing_units", ["status"])

    lock = op.create_table(
        "routing_dispatch_lock",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("decisions", sa.Integer(), nullable=False, server_default="0"),
    )
    op.bulk_insert(lock, [{"id": 1, "decisions": 0}])


def downgrade() -> None:
    op.drop_table("routing_dispatch_lock")
    op.drop_table("routing_units")
    op.drop_index("ix_routing_calls_received_at", "routing_calls")
    op.drop_index("ix_routing_calls_queue", "routing_calls")
    op.drop_index("ix_routing_calls_unit_id", "routing_calls")
    with op.batch_alter_table("routing_calls") as batch:
        for column in reversed(CALL_COLUMNS):
            batch.drop_column(column.name)
