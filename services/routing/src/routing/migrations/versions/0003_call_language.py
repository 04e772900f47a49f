"""The language of each routed call, and whether reading it needs an interpreter.

Revision ID: 0003
Revises: 0002

Calls stored before this revision take both from their decision record: the language triage
named, and the flag when triage could not read the narrative (``R0_language_not_covered``).
"""

import json

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

_BATCH = 500


def _reading(decision: str | None) -> tuple[str | None, bool]:
    try:
        record = json.loads(decision) if decision else {}
    except ValueError:
        record = {}
    if not isinstance(record, dict):
        return None, False
    language = record.get("language")
    language = language.lower() if isinstance(language, str) and language else None
    unread = record.get("rule") == "R0_language_not_covered"
    return language, unread


def upgrade() -> None:
    with op.batch_alter_table("routing_calls") as batch:
        batch.add_column(sa.Column("language", sa.String(16), nullable=True))
        batch.add_column(
            sa.Column("needs_interpreter", sa.Boolean(), nullable=False, server_default=sa.false())
        )

    calls = sa.table(
        "routing_calls",
        sa.column("call_id", sa.String()),
        sa.column("decision", sa.Text()),
        sa.column("language", sa.String()),
        sa.column("needs_interpreter", sa.Boolean()),
    )
    connection = op.get_bind()
    after = ""
    while True:
        rows = connection.execute(
            sa.select(calls.c.call_id, calls.c.decision)
            .where(calls.c.call_id > after, calls.c.decision.is_not(None))
            .order_by(calls.c.call_id)
            .limit(_BATCH)
        ).all()
        if not rows:
            break
        for call_id, decision in rows:
            language, flagged = _reading(decision)
            if language is not None or flagged:
                connection.execute(
                    sa.update(calls)
                    .where(calls.c.call_id == call_id)
                    .values(language=language, needs_interpreter=flagged)
                )
        after = rows[-1][0]


def downgrade() -> None:
    with op.batch_alter_table("routing_calls") as batch:
        batch.drop_column("needs_interpreter")
        batch.drop_column("language")
