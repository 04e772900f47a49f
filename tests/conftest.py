"""Fixtures shared by every tier: databases (SQLite and, when configured, PostgreSQL) and the broker."""

from __future__ import annotations

import os
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

SHARED_EIDO_DIR = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "eido"
"""NENA's EIDO schema and samples in the shared data beside the repository (``../shared``)."""

# Tiers (markers) that may use the broker; `db` tests and unmarked unit tests may not.
BROKER_TIERS = frozenset({"integration", "e2e", "fault", "browser"})
BROKER_FIXTURES = frozenset({"kafka_bootstrap", "namespace"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Refuse a test whose marker puts it in a tier without the broker it uses.

    ``make test-unit`` selects tests by marker; a broker test marked ``db`` or left unmarked
    would fail there (or hang on the broker's timeouts) instead of running with the broker.
    """
    wrong = []
    for item in items:
        tiers = {mark.name for mark in item.iter_markers()}
        uses = BROKER_FIXTURES & set(getattr(item, "fixturenames", ()))
        if uses and "db" in tiers:
            wrong.append(f"{item.nodeid} is marked db but uses {', '.join(sorted(uses))}")
        elif uses and not tiers & BROKER_TIERS:
            needed = " or ".join(sorted(BROKER_TIERS))
            wrong.append(f"{item.nodeid} uses {', '.join(sorted(uses))} but is not marked {needed}")
    if wrong:
        raise pytest.UsageError("tests in the wrong tier:\n  " + "\n  ".join(wrong))


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


def eido_schema_dir() -> Path:
    """The folder with NENA's EIDO schema (``openapi.yaml``, ``NIEMComponents/``) and samples.

    ``EIDO_SCHEMA_DIR`` names it; unset, it is ``SHARED_EIDO_DIR``. NENA publishes these without
    a licence, so they are not in the repository: where the folder is missing (a clone without
    the shared data beside it), the calling test is skipped, saying where it looked.
    """
    configured = os.environ.get("EIDO_SCHEMA_DIR")
    folder = Path(configured) if configured else SHARED_EIDO_DIR
    if not (folder / "openapi.yaml").is_file():
        source = "EIDO_SCHEMA_DIR" if configured else "the default, as EIDO_SCHEMA_DIR is unset"
        pytest.skip(f"NENA's EIDO schema is not in {folder} ({source}): point EIDO_SCHEMA_DIR at a copy")
    return folder
