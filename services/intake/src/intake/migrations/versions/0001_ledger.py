"""The call ledger, its timeline, outbox and processed events.

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
        "intake_calls",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("cad_incident_id", sa.String(64), nullable=False, unique=True),
        sa.Column("narrative", sa.Text(), nullable=True),
        sa.Column("call_type", sa.String(200), nullable=True),
        sa.Column("address", sa.String(500), nullable=True),
        sa.Column("lat", sa.Float(), nullable=True),
        sa.Column("lon", sa.Float(), nullable=True),
        sa.Column("caller", sa.Text(), nullable=True),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("route", sa.String(20), nullable=True),
        sa.Column("threat_level", sa.String(20), nullable=True),
        sa.Column("priority", sa.Integer(), nullable=True),
        sa.Column("decision", sa.Text(), nullable=True),
        sa.Column("assigned_unit_id", sa.String(64), nullable=True),
        sa.Column("assigned_unit_type", sa.String(20), nullable=True),
        sa.Column("disposition", sa.String(40), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_intake_calls_status", "intake_calls", ["status"])
    op.create_index("ix_intake_calls_route", "intake_calls", ["route"])
    op.create_index("ix_intake_calls_received_at", "intake_calls", ["received_at"])
    op.create_table(
        "intake_timeline",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(36), sa.ForeignKey("intake_calls.call_id"), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("at", sa.DateTime(), nullable=False),
        sa.Column("details", sa.Text(), nullable=False),
    )
    op.create_index("ix_intake_timeline_call_id", "intake_timeline", ["call_id"])
    create_outbox_table("intake_outbox")
    create_processed_events_table("intake_processed_events")


def downgrade() -> None:
    for table in ("intake_processed_events", "intake_outbox", "intake_timeline", "intake_calls"):
        op.drop_table(table)
