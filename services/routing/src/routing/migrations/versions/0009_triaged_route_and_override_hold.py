"""What an override holds and what it freed, and the route triage first decided.

* ``routing_calls.triaged_route``: the route of triage's first decision, which no revision or
  override changes; the unserved report judges eligibility by it. Rows routed before this revision
  take the route they had before anything changed it, as far as the record tells: the route of the
  earliest unserved row or override (each records the route it changed), else the route in force.
* ``routing_calls.overridden_route`` / ``overridden_threat_level``: the most severe reading the
  dispatcher overrides in force set aside; null for rows before this revision (no hold).
* ``routing_overrides.released_unit_ids``: the escalation-added units an override freed (JSON).

Revision ID: 0009
Revises: 0008
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None

# The route each call had before its first recorded change: an unserved row (escalation, fallback,
# override of an eligible call) or an override, whichever came first.
_FIRST_ROUTE = """
UPDATE routing_calls SET triaged_route = COALESCE(
    (SELECT u.route FROM routing_unserved u
     WHERE u.call_id = routing_calls.call_id
       AND NOT EXISTS (SELECT 1 FROM routing_overrides o
                       WHERE o.call_id = u.call_id AND o.overridden_at < u.recorded_at)
     ORDER BY u.recorded_at, u.id LIMIT 1),
    (SELECT o.from_route FROM routing_overrides o
     WHERE o.call_id = routing_calls.call_id
     ORDER BY o.overridden_at, o.id LIMIT 1),
    route)
"""


def upgrade() -> None:
    with op.batch_alter_table("routing_calls") as batch:
        batch.add_column(sa.Column("triaged_route", sa.String(20), nullable=True))
        batch.add_column(sa.Column("overridden_route", sa.String(20), nullable=True))
        batch.add_column(sa.Column("overridden_threat_level", sa.String(20), nullable=True))
    op.execute(_FIRST_ROUTE)
    with op.batch_alter_table("routing_calls") as batch:
        batch.alter_column("triaged_route", existing_type=sa.String(20), nullable=False)
    with op.batch_alter_table("routing_overrides") as batch:
        batch.add_column(sa.Column("released_unit_ids", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("routing_overrides") as batch:
        batch.drop_column("released_unit_ids")
    with op.batch_alter_table("routing_calls") as batch:
        batch.drop_column("overridden_threat_level")
        batch.drop_column("overridden_route")
        batch.drop_column("triaged_route")
