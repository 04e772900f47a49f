"""Triage decisions, outbox and processed events.

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
        "triage_decisions",
        sa.Column("call_id", sa.String(36), primary_key=True),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("threat_level", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
    )
    op.create_index("ix_triage_decisions_route", "triage_decisions", ["route"])
    create_outbox_table("triage_outbox")
    create_processed_events_table("triage_processed_events")


def downgrade() -> None:
    for table in ("triage_processed_events", "triage_outbox", "triage_decisions"):
        op.drop_table(table)
