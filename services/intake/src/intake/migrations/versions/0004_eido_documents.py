"""The EIDOs CAD sent, kept for audit until retention clears them.

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
    op.create_table(
        "intake_eido_documents",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("call_id", sa.String(36), sa.ForeignKey("intake_calls.call_id"), nullable=False),
        sa.Column("eido_id", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(), nullable=False),
        sa.Column("document", sa.Text(), nullable=True),
    )
    op.create_index("ix_intake_eido_documents_call_id", "intake_eido_documents", ["call_id"])


def downgrade() -> None:
    op.drop_index("ix_intake_eido_documents_call_id", table_name="intake_eido_documents")
    op.drop_table("intake_eido_documents")
