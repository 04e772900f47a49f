"""Database engine, sessions and migrations: SQLite by default, PostgreSQL when the URL says so.

Each service owns its tables (prefixed with the service name) and its own Alembic history
(``alembic_version_<service>``), so the services can share one database or use one each.
"""

from __future__ import annotations

import hashlib
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import DateTime, event, text
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.types import TypeDecorator
from sqlmodel import Session, create_engine


class UtcDateTime(TypeDecorator[datetime]):
    """Stores UTC without a zone (portable across SQLite and PostgreSQL), returns aware UTC."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC).replace(tzinfo=None)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return value.replace(tzinfo=UTC) if value is not None else None


def make_engine(url: str, **kwargs: Any) -> Engine:
    """An engine tuned for concurrent use from a web server's thread pool and the event loop.

    ``hide_parameters`` on every backend: a database error must never carry a narrative into a
    log or a header, so statements are reported without their bound values.
    """
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            hide_parameters=True,
            **kwargs,
        )

        @event.listens_for(engine, "connect")
        def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
            # WAL lets readers run beside the writer; the busy timeout makes writers queue
            # instead of failing when the relay and a request write at the same moment.
            cursor = dbapi_connection.cursor()
            cursor.execute("PRAGMA busy_timeout=30000")
            _use_wal(cursor)
            cursor.execute("PRAGMA synchronous=NORMAL")
            cursor.execute("PRAGMA foreign_keys=ON")
            cursor.close()

        return engine
    return create_engine(
        url, pool_pre_ping=True, pool_size=10, max_overflow=10, hide_parameters=True, **kwargs
    )


def _use_wal(cursor: Any, wait_seconds: float = 30) -> None:
    """Put a SQLite database in WAL mode, waiting up to ``wait_seconds`` s for other writers.

    Switching a fresh file to WAL needs an exclusive lock, and SQLite answers "database is
    locked" at once, without its busy handler, while another process holds a write lock (as a
    second replica migrating the same fresh file does). A database already in WAL is left as is.
    """
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            if cursor.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                cursor.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@contextmanager
def transaction(engine: Engine) -> Iterator[Session]:
    """A session whose work commits together on success and rolls back on any error."""
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            yield session


@contextmanager
def snapshot(engine: Engine) -> Iterator[Session]:
    """A read-only session whose queries all see the database as of one moment.

    A read that takes several queries (a call, then its added units and overrides) must not mix
    two states. Under PostgreSQL's default READ COMMITTED each statement sees what was committed
    when it started, so a commit landing between two of them shows a call with its new unit but
    its old route. Here PostgreSQL runs the transaction REPEATABLE READ, READ ONLY (one snapshot,
    taken at the first query; writes raise ``DBAPIError``). On SQLite the driver opens a
    transaction only before a write, so each SELECT would read on its own; an explicit ``BEGIN``
    makes WAL mode keep one snapshot from the first read to the end.
    """
    with Session(engine, expire_on_commit=False) as session:
        with session.begin():
            if engine.dialect.name == "postgresql":
                session.connection(
                    execution_options={"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
                )
            elif engine.dialect.name == "sqlite":
                session.connection().exec_driver_sql("BEGIN")
            yield session


def ping(engine: Engine) -> None:
    """Raise unless the database answers a trivial query."""
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))


def migration_lock_key(service: str) -> int:
    """The PostgreSQL advisory lock key (a signed 64-bit integer) that guards ``service``'s migrations.

    Stable across processes and Python versions (a hash of the service name, not ``hash()``).
    """
    digest = hashlib.blake2b(f"dispatch-migrations:{service}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


def _lock_migrations(connection: Connection, service: str) -> None:
    """Hold the database's migration lock for ``service`` until ``connection``'s transaction ends.

    Replicas starting together on a fresh database would otherwise all see no version table and
    all create the same tables; the losers crash. With the lock the first upgrades and the others
    wait, then find the schema at head and do nothing.
    """
    if connection.dialect.name == "postgresql":
        connection.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": migration_lock_key(service)})
    elif connection.dialect.name == "sqlite":
        # The sqlite3 module runs DDL outside any transaction; an explicit BEGIN IMMEDIATE takes
        # the database's write lock now (waiting out the busy timeout) and makes the upgrade one
        # transaction, committed when ``engine.begin()`` ends.
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def migration_config(*, migrations_dir: Path, service: str) -> Config:
    """The Alembic configuration of ``service``'s own history (version table
    ``alembic_version_<service>``); put a connection in ``attributes["connection"]`` to run it."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    config.attributes["version_table"] = f"alembic_version_{service}"
    return config


def migrate(engine: Engine, *, migrations_dir: Path, service: str) -> None:
    """Bring the service's tables to the newest revision of its own Alembic history.

    Safe to run from several processes at once: the upgrade runs in one transaction under a
    per-service lock (a PostgreSQL advisory lock, SQLite's write lock), so one process upgrades
    and the others wait and then find nothing to do. Raises what Alembic or the database raise.
    """
    config = migration_config(migrations_dir=migrations_dir, service=service)
    with engine.begin() as connection:
        _lock_migrations(connection, service)
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def run_migrations_online(context: Any) -> None:
    """The body of every service's ``migrations/env.py``: run on the connection ``migrate`` gave."""
    connection = context.config.attributes["connection"]
    context.configure(
        connection=connection,
        version_table=context.config.attributes["version_table"],
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()
