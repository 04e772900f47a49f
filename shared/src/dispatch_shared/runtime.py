"""The long-lived resources of one service process, started and stopped by its lifespan.

Built once per process from settings: the database engine (migrated to head), the Kafka link,
the outbox and its relay, and the consumer when the service consumes. Routes and handlers reach
it through ``app.state.runtime``.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from sqlalchemy.engine import Engine

from dispatch_shared.consumer import EventConsumer, Handler, ProcessedEventRecord
from dispatch_shared.db import make_engine, migrate, ping
from dispatch_shared.events import Topic
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.outbox import Outbox, OutboxRecord, OutboxRelay
from dispatch_shared.settings import ServiceSettings

log = logging.getLogger(__name__)


class ServiceRuntime:
    """Engine, Kafka link, outbox relay and consumer of one service."""

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations_dir: Path,
        outbox_table: type[OutboxRecord],
        inbox_table: type[ProcessedEventRecord] | None = None,
        handlers: dict[Topic, Handler] | None = None,
    ) -> None:
        self.settings = settings
        self.migrations_dir = migrations_dir
        self.engine: Engine = make_engine(settings.resolved_database_url())
        self.kafka = KafkaLink(
            settings.kafka_bootstrap_servers,
            client_id=settings.service_name,
            partitions=settings.kafka_topic_partitions,
            replication_factor=settings.kafka_replication_factor,
            namespace=settings.kafka_namespace,
        )
        self.outbox = Outbox(outbox_table, source=f"/dispatch/{settings.service_name}")
        self.relay = OutboxRelay(
            self.engine, outbox_table, self.kafka, poll_seconds=settings.outbox_poll_seconds
        )
        self.consumer = (
            EventConsumer(
                engine=self.engine,
                kafka=self.kafka,
                inbox=inbox_table,
                group_id=f"{settings.kafka_namespace}dispatch-{settings.service_name}",
                handlers=handlers,
                after_commit=self.relay.wake,
            )
            if handlers and inbox_table is not None
            else None
        )
        self._relay_task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Migrate the database, then connect to Kafka and start relaying and consuming."""
        await asyncio.to_thread(
            migrate, self.engine, migrations_dir=self.migrations_dir, service=self.settings.service_name
        )
        self.kafka.start()
        self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        if self.consumer is not None:
            self.consumer.start()
        log.info("service started", extra={"port": self.settings.port})

    async def stop(self) -> None:
        """Graceful: stop consuming, finish in-flight work, flush the outbox, close connections."""
        if self.consumer is not None:
            await self.consumer.stop()
        if self._relay_task is not None:
            self._relay_task.cancel()  # the relay flushes what is pending before it ends
            try:
                await self._relay_task
            except asyncio.CancelledError:
                pass
        await self.kafka.stop()
        self.engine.dispose()
        log.info("service stopped")

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state: 'ok' or the error's name."""
        checks: dict[str, str] = {}
        try:
            await asyncio.wait_for(asyncio.to_thread(ping, self.engine), 3)
            checks["database"] = "ok"
        except Exception as exc:  # noqa: BLE001 - report, don't raise, from a probe
            checks["database"] = exc.__class__.__name__
        try:
            await self.kafka.ping()
            checks["kafka"] = "ok"
        except Exception as exc:  # noqa: BLE001
            checks["kafka"] = exc.__class__.__name__
        return checks
