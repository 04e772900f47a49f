"""Fixtures shared by every tier: databases (SQLite and, when configured, PostgreSQL) and the broker."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import (
    KAFKA,
    POSTGRES_URL,
    create_postgres_database,
    delete_topics,
    drop_postgres_database,
    kafka_reachable,
    unique,
)

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(params=BACKENDS)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database: a SQLite file, or a new PostgreSQL database on the test cluster."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'test.db'}"
        return
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set (.ci/run sets it)")
    name = unique("test_")
    yield create_postgres_database(name)
    drop_postgres_database(name)


@pytest.fixture(scope="session")
def kafka_bootstrap() -> str:
    """The real broker; `make test` starts it. Failing, not skipping, keeps a missing broker loud."""
    if not kafka_reachable():
        pytest.fail(f"no Kafka broker at {KAFKA}: run the suite with `make test`")
    return KAFKA


@pytest.fixture
def namespace() -> Iterator[str]:
    """A topic and group prefix owned by one test; its topics are deleted afterwards."""
    prefix = unique("t") + "."
    yield prefix
    delete_topics(prefix)
