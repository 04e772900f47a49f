"""Column sets that every service's migrations create: its outbox and its processed-events table."""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op


def create_outbox_table(name: str) -> None:
    """Create ``<service>_outbox`` (see ``dispatch_shared.outbox.OutboxRecord``)."""
    op.create_table(
        name,
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_id", sa.String(64), nullable=False, unique=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("key", sa.String(200), nullable=False),
        sa.Column("ce_type", sa.String(200), nullable=False),
        sa.Column("source", sa.String(200), nullable=False),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
    )
    op.create_index(f"ix_{name}_sent_at", name, ["sent_at"])


def create_processed_events_table(name: str) -> None:
    """Create ``<service>_processed_events`` (see ``dispatch_shared.consumer.ProcessedEventRecord``)."""
    op.create_table(
        name,
        sa.Column("event_id", sa.String(64), primary_key=True),
        sa.Column("topic", sa.String(200), nullable=False),
        sa.Column("processed_at", sa.DateTime(), nullable=False),
    )
