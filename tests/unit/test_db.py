"""Database engines: a failed statement never carries its bound values (narratives) into an error."""

import sqlite3
import threading
from pathlib import Path

import pytest
from dispatch_shared.db import make_engine, migration_lock_key
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

NARRATIVE = "Caller says her son wants to die and has pills"


def test_a_sqlite_error_names_the_statement_but_not_the_narrative() -> None:
    engine = make_engine("sqlite://")
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE calls (narrative TEXT UNIQUE)"))
        connection.execute(text("INSERT INTO calls VALUES (:narrative)"), {"narrative": NARRATIVE})
    with pytest.raises(IntegrityError) as raised, engine.begin() as connection:
        connection.execute(text("INSERT INTO calls VALUES (:narrative)"), {"narrative": NARRATIVE})
    message = str(raised.value)
    assert "INSERT INTO calls" in message  # the error still says what failed
    assert NARRATIVE not in message and "wants to die" not in message
    assert "hidden due to hide_parameters" in message
    engine.dispose()


@pytest.mark.parametrize("url", ["sqlite://", "postgresql+psycopg://user@127.0.0.1:1/db"])
def test_every_backend_hides_parameters(url: str) -> None:
    engine = make_engine(url)  # no connection is made
    assert engine.hide_parameters
    engine.dispose()


def test_each_service_has_its_own_64_bit_migration_lock() -> None:
    keys = {service: migration_lock_key(service) for service in ("intake", "triage", "routing")}
    assert len(set(keys.values())) == 3
    assert all(-(2**63) <= key < 2**63 for key in keys.values())  # PostgreSQL's bigint


def test_a_second_process_opening_a_fresh_sqlite_file_waits_for_the_writer(tmp_path: Path) -> None:
    # Another replica holds a write lock on a fresh (not yet WAL) file: switching to WAL must
    # wait for it, not fail with "database is locked".
    path = tmp_path / "fresh.db"
    writer = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    writer.execute("BEGIN IMMEDIATE")
    writer.execute("CREATE TABLE t (x INTEGER)")
    release = threading.Timer(0.5, writer.execute, args=("COMMIT",))
    release.start()
    engine = make_engine(f"sqlite:///{path}")
    try:
        with engine.connect() as connection:
            assert connection.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    finally:
        release.join()
        writer.close()
        engine.dispose()
