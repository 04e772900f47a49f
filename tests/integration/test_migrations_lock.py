"""Migrations under a lock: replicas starting together on a fresh database all come up.

Without the lock, two runs on a fresh database both find no version table and both create the
same tables; one crashes (PostgreSQL: a duplicate ``pg_type`` entry; SQLite: "table already
exists"). Each run here is a separate process, as replicas are.
"""

import subprocess
import sys
import threading
import time

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from dispatch_shared.db import make_engine, migrate, migration_lock_key
from intake.app import MIGRATIONS as INTAKE_MIGRATIONS
from routing.app import MIGRATIONS as ROUTING_MIGRATIONS
from triage.app import MIGRATIONS as TRIAGE_MIGRATIONS

# Needs no broker, yet stays out of the db tier (and so out of `make test-unit`): six interpreter
# processes importing SQLAlchemy and Alembic and meeting at a common start take 10-20 s.
pytestmark = pytest.mark.integration

MIGRATIONS = {"intake": INTAKE_MIGRATIONS, "triage": TRIAGE_MIGRATIONS, "routing": ROUTING_MIGRATIONS}

# One migration run in its own process: import first, then wait for the shared start time so
# that every run reaches the empty database at the same moment.
RUN = """
import sys, time
from pathlib import Path
from dispatch_shared.db import make_engine, migrate
service, directory, url, start = sys.argv[1], Path(sys.argv[2]), sys.argv[3], float(sys.argv[4])
engine = make_engine(url)
time.sleep(max(0.0, start - time.time()))
migrate(engine, migrations_dir=directory, service=service)
"""


def head(service: str) -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS[service]))
    revision = ScriptDirectory.from_config(config).get_current_head()
    assert revision is not None
    return revision


def version(engine: sa.Engine, service: str) -> list[str]:
    with engine.connect() as connection:
        return list(
            connection.execute(sa.text(f"SELECT version_num FROM alembic_version_{service}")).scalars()
        )


def test_replicas_migrating_a_fresh_database_at_once_all_succeed(database_url: str) -> None:
    start = time.time() + 6  # after every process has imported SQLAlchemy and Alembic
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", RUN, service, str(directory), database_url, str(start)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for service, directory in MIGRATIONS.items()
        for _replica in range(2)
    ]
    failures = [run.communicate(timeout=120)[1] for run in runs]
    assert [run.returncode for run in runs] == [0] * len(runs), "\n".join(f for f in failures if f)

    engine = make_engine(database_url)
    try:
        for service in MIGRATIONS:
            assert version(engine, service) == [head(service)]
        with engine.connect() as connection:  # routing's data migration ran exactly once
            assert connection.execute(sa.text("SELECT count(*) FROM routing_dispatch_lock")).scalar() == 1
    finally:
        engine.dispose()


def hold_migration_lock(connection: sa.Connection, service: str) -> None:
    """Take the lock ``migrate`` takes, as another replica mid-upgrade would hold it."""
    if connection.dialect.name == "postgresql":
        connection.execute(
            sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": migration_lock_key(service)}
        )
    else:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def test_a_migration_waits_for_the_one_holding_the_lock(database_url: str) -> None:
    holder, migrator = make_engine(database_url), make_engine(database_url)
    errors: list[BaseException] = []

    def run() -> None:
        try:
            migrate(migrator, migrations_dir=MIGRATIONS["triage"], service="triage")
        except BaseException as exc:  # noqa: BLE001 - reported by the test thread
            errors.append(exc)

    try:
        with holder.connect() as connection:
            with connection.begin():
                hold_migration_lock(connection, "triage")
                waiting = threading.Thread(target=run)
                waiting.start()
                waiting.join(2)
                assert waiting.is_alive(), f"migrate did not wait for the lock: {errors}"
            waiting.join(60)  # the holder's transaction ended: the lock is free
        assert not waiting.is_alive() and errors == []
        assert version(migrator, "triage") == [head("triage")]
    finally:
        holder.dispose()
        migrator.dispose()
        migrator.dispose()
