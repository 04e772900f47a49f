"""Routed calls, outbox and processed events.

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op
from dispatch_shared.migrations import create_outbox_table, create_processed_events_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "routing_calls",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("clinician_followup", sa.Boolean(), nullable=False),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("routed_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_routing_calls_route", "routing_calls", ["route"])
    op.create_index("ix_routing_calls_status", "routing_calls", ["status"])
    create_outbox_table("routing_outbox")
    create_processed_events_table("routing_processed_events")


def downgrade() -> None:
    for table in ("routing_processed_events", "routing_outbox", "routing_calls"):
        op.drop_table(table)
