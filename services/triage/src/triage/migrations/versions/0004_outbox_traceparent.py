"""The trace context of the transaction that wrote each outbox row: ``triage_outbox.traceparent``.

A W3C ``traceparent`` (version 00, 55 characters), sent with the event as ``ce_traceparent``;
null for rows written outside a traced span and for rows written before this revision.

Revision ID: 0004
Revises: 0003
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("triage_outbox") as batch:
        batch.add_column(sa.Column("traceparent", sa.String(55), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("triage_outbox") as batch:
        batch.drop_column("traceparent")
