"""Fixtures of the integration tier: intake's tables on a fresh database, and a live Kafka link."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import pytest
from dispatch_shared.db import make_engine, migrate
from dispatch_shared.kafka import KafkaLink
from intake.app import MIGRATIONS
from sqlalchemy.engine import Engine


@pytest.fixture
def intake_engine(database_url: str) -> Iterator[Engine]:
    """An engine on a fresh database (SQLite and PostgreSQL) migrated to intake's newest schema."""
    engine = make_engine(database_url)
    migrate(engine, migrations_dir=MIGRATIONS, service="intake")
    yield engine
    engine.dispose()


@pytest.fixture
async def kafka_link(kafka_bootstrap: str, namespace: str) -> AsyncIterator[KafkaLink]:
    """A started ``KafkaLink`` (3 partitions) in the test's own topic namespace, connected."""
    link = KafkaLink(kafka_bootstrap, client_id="test", partitions=3, namespace=namespace)
    link.start()
    assert await link.wait_connected(30)
    yield link
    await link.stop()
