"""One decision per call revision: ``triage_decisions`` is keyed by ``(call_id, revision)``.

Existing decisions become revision 1. The table is rebuilt (create, copy, drop, rename) so the
primary key changes the same way on SQLite and PostgreSQL.

Revision ID: 0003
Revises: 0002
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# The rows each direction keeps, as fixed statements.
_UPGRADE_COPY = (
    "INSERT INTO triage_decisions_new"
    " (call_id, revision, route, threat_level, priority, policy_version, record, decided_at, redacted_at)"
    " SELECT call_id, 1, route, threat_level, priority, policy_version, record, decided_at, redacted_at"
    " FROM triage_decisions"
)
# The old key holds one decision per call: keep each call's earliest revision.
_DOWNGRADE_COPY = (
    "INSERT INTO triage_decisions_new"
    " (call_id, route, threat_level, priority, policy_version, record, decided_at, redacted_at)"
    " SELECT call_id, route, threat_level, priority, policy_version, record, decided_at, redacted_at"
    " FROM triage_decisions d WHERE revision ="
    " (SELECT MIN(revision) FROM triage_decisions e WHERE e.call_id = d.call_id)"
)
_RENAME_KEY = (
    "ALTER TABLE triage_decisions RENAME CONSTRAINT triage_decisions_new_pkey TO triage_decisions_pkey"
)


def _rebuild(*, with_revision: bool, copy: str) -> None:
    """Replace ``triage_decisions`` by a copy keyed with or without ``revision``; ``copy`` fills it."""
    key = ["call_id", "revision"] if with_revision else ["call_id"]
    op.create_table(
        "triage_decisions_new",
        sa.Column("call_id", sa.String(36), nullable=False),
        *([sa.Column("revision", sa.Integer(), nullable=False)] if with_revision else []),
        sa.Column("route", sa.String(20), nullable=False),
        sa.Column("threat_level", sa.String(20), nullable=False),
        sa.Column("priority", sa.Integer(), nullable=False),
        sa.Column("policy_version", sa.String(64), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.Column("redacted_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint(*key, name="triage_decisions_new_pkey"),
    )
    op.execute(copy)
    op.drop_table("triage_decisions")  # its route index goes with it
    op.rename_table("triage_decisions_new", "triage_decisions")
    if op.get_bind().dialect.name == "postgresql":  # constraint names are per schema there
        op.execute(_RENAME_KEY)
    op.create_index("ix_triage_decisions_route", "triage_decisions", ["route"])


def upgrade() -> None:
    _rebuild(with_revision=True, copy=_UPGRADE_COPY)


def downgrade() -> None:
    _rebuild(with_revision=False, copy=_DOWNGRADE_COPY)
