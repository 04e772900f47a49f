"""A read of several queries sees one state of the database, on SQLite and on PostgreSQL.

A console read joins a call to its added units in two queries. Under PostgreSQL's default
isolation, an escalation committing between them showed the new unit beside the old route.
"""

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

import pytest
from dispatch_shared.db import make_engine, snapshot, transaction
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DBAPIError
from sqlmodel import Session

pytestmark = pytest.mark.db


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS snapshot_probe"))
        connection.execute(text("CREATE TABLE snapshot_probe (id INTEGER PRIMARY KEY, route TEXT)"))
        connection.execute(text("INSERT INTO snapshot_probe VALUES (1, 'clinician_only')"))
    yield engine
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE snapshot_probe"))
    engine.dispose()


def read_route(session: Session) -> str:
    return str(session.execute(text("SELECT route FROM snapshot_probe WHERE id = 1")).scalar_one())


def escalate(engine: Engine, route: str) -> None:
    """Commit a change from another thread (its own connection), as another request would."""

    def write() -> None:
        with transaction(engine) as session:
            session.execute(text("UPDATE snapshot_probe SET route = :route WHERE id = 1"), {"route": route})

    writer = threading.Thread(target=write)
    writer.start()
    writer.join(timeout=30)
    assert not writer.is_alive()


@pytest.mark.parametrize(
    ("read", "second_read"),
    [
        (snapshot, "clinician_only"),  # one snapshot: the commit is not seen until the next read
        (transaction, "co_response"),  # the hazard a plain transaction leaves, so the test can fail
    ],
)
def test_a_commit_between_two_queries_of_a_read(
    engine: Engine, read: Callable[[Engine], AbstractContextManager[Session]], second_read: str
) -> None:
    with read(engine) as session:
        first = read_route(session)
        escalate(engine, "co_response")
        second = read_route(session)
    assert (first, second) == ("clinician_only", second_read)
    with snapshot(engine) as session:
        assert read_route(session) == "co_response"


def test_a_snapshot_refuses_writes_on_postgresql(engine: Engine) -> None:
    if engine.dialect.name != "postgresql":
        pytest.skip("SQLite has no read-only transactions; only PostgreSQL enforces it")
    with pytest.raises(DBAPIError, match="read-only"):
        with snapshot(engine) as session:
            session.execute(text("UPDATE snapshot_probe SET route = 'police' WHERE id = 1"))
    with transaction(engine) as session:  # the pooled connection is writable again afterwards
        session.execute(text("UPDATE snapshot_probe SET route = 'police' WHERE id = 1"))
    with snapshot(engine) as session:
        assert read_route(session) == "police"
