"""Alembic environment for triage: runs on the connection ``dispatch_shared.db.migrate`` provides."""

from alembic import context
from dispatch_shared.db import run_migrations_online

run_migrations_online(context)
