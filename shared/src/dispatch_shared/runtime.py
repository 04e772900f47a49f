"""The long-lived resources of one service process, started and stopped by its lifespan.

Built once per process from settings: the database engine (migrated to head), the Kafka link,
the outbox and its relay, the consumer when the service consumes, and the periodic jobs
(retention, and those the service registers). Routes and handlers reach it through
``app.state.runtime``; they change state in a ``unit_of_work``, which wakes the relay once the
transaction has committed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from functools import partial
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlmodel import Session

from dispatch_shared.consumer import EventConsumer, EventHandler, ProcessedEventRecord
from dispatch_shared.db import make_engine, migrate, ping, transaction
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.outbox import Outbox, OutboxRecord, OutboxRelay
from dispatch_shared.periodic import PeriodicJobs
from dispatch_shared.retention import PurgePass, enforce_retention
from dispatch_shared.settings import ServiceSettings

log = logging.getLogger(__name__)

UnitOfWork = Callable[[], AbstractContextManager[Session]]
"""Opens a transaction that commits when its block ends (``ServiceRuntime.unit_of_work``)."""


class ServiceRuntime:
    """Engine, Kafka link, outbox relay and consumer of one service.

    ``handlers``: one per event model the service consumes, each made by ``consumer.handles``
    (its topic is the model's); with an ``inbox_table`` they make the consumer, else there is none.
    ``purge_pass``: the service's retention pass, run every ``retention_check_seconds`` (see
    ``dispatch_shared.retention``). Further periodic jobs are registered on ``jobs`` before ``start``.
    """

    def __init__(
        self,
        settings: ServiceSettings,
        *,
        migrations_dir: Path,
        outbox_table: type[OutboxRecord],
        inbox_table: type[ProcessedEventRecord] | None = None,
        handlers: Sequence[EventHandler] = (),
        purge_pass: PurgePass | None = None,
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
            delivery_timeout=settings.kafka_delivery_timeout_seconds,
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
        self.jobs = PeriodicJobs()
        if purge_pass is not None:
            retention = partial(
                enforce_retention,
                self.engine,
                purge_pass,
                retention_days=settings.retention_days,
                check_seconds=settings.retention_check_seconds,
            )
            self.jobs.add(retention, name="retention")

    @contextmanager
    def unit_of_work(self) -> Iterator[Session]:
        """A transaction whose work commits together when the block ends, then wakes the relay.

        Events staged in it (``outbox.add``) go out at once instead of at the relay's next poll.
        On any error the work rolls back, the error propagates and the relay is not woken.
        """
        with transaction(self.engine) as session:
            yield session
        self.relay.wake()

    async def start(self) -> None:
        """Migrate the database, then connect to Kafka, start relaying and consuming, and start the jobs."""
        await asyncio.to_thread(
            migrate, self.engine, migrations_dir=self.migrations_dir, service=self.settings.service_name
        )
        self.kafka.start()
        self._relay_task = asyncio.create_task(self.relay.run(), name="outbox-relay")
        if self.consumer is not None:
            self.consumer.start()
        self.jobs.start()
        log.info("service started", extra={"port": self.settings.port})

    async def stop(self) -> None:
        """Graceful, within ``shutdown_timeout_seconds`` even with Kafka away.

        Stop the periodic jobs (each finishes the run in hand), stop consuming (finish the event
        in hand), let the relay deliver what it can while Kafka is connected, close the producer,
        dispose of the engine. Each step gets what is left of the budget; one that overruns is
        cancelled. Undelivered rows stay for the next start.
        """
        loop = asyncio.get_running_loop()
        budget = self.settings.shutdown_timeout_seconds
        deadline = loop.time() + budget
        close_reserve = min(2.0, budget / 5)  # kept back for closing the producer

        def left(reserve: float = 0.0) -> float:
            return max(deadline - loop.time() - reserve, 0.0)

        await _within("periodic jobs", self.jobs.stop(), left(close_reserve) / 2)
        if self.consumer is not None:
            share = left(close_reserve) / 2  # the other half is for the last deliveries
            await _within("consumer", self.consumer.stop(timeout=share), share + 0.5)
        if self._relay_task is not None:
            self.relay.stop_soon(left(close_reserve))
            await _within("outbox relay", self._relay_task, left(close_reserve) + 0.5)
        await _within("kafka producer", self.kafka.stop(timeout=left()), left() + 0.5)
        # Work cancelled above may still run in a worker thread (a thread cannot be interrupted)
        # with a connection checked out; disposing now would leave that connection open for good.
        await _connections_returned(self.engine, timeout=max(left(), 1.0))
        self.engine.dispose()
        log.info("service stopped", extra={"seconds": round(budget - left(), 2)})

    async def readiness(self) -> dict[str, str]:
        """Each dependency's state: 'ok' or the error's name; the consumer's, when the service has one:
        'ok', 'not_running', 'restarting' or 'stalled' (see ``EventConsumer.health``).

        Only the database and the consumer decide readiness (``READINESS_GATES``). Kafka is
        reported but does not count: with the broker away a service still answers its API from
        its database and queues its events in the outbox, so a Kafka blip must not take every
        replica out of its load balancer at once; a consumer that cannot keep up shows as
        'stalled'."""
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
        if self.consumer is not None:
            checks["consumer"] = self.consumer.health()
        return checks


READINESS_GATES = ("database", "consumer")


def is_ready(checks: dict[str, str]) -> bool:
    """True when every gating check of ``ServiceRuntime.readiness`` is 'ok' (Kafka's does not gate)."""
    return all(state == "ok" for name, state in checks.items() if name in READINESS_GATES)


async def _within(what: str, work: Awaitable[None], seconds: float) -> None:
    """Wait at most ``seconds`` for ``work``; past that cancel it and go on (logged)."""
    task = asyncio.ensure_future(work)
    done, _ = await asyncio.wait({task}, timeout=seconds)
    if not done:
        task.cancel()
        log.warning("shutdown step cut short", extra={"step": what, "after_s": round(seconds, 2)})
    elif not task.cancelled() and task.exception() is not None:
        log.warning(
            "shutdown step failed", extra={"step": what, "error": task.exception().__class__.__name__}
        )


async def _connections_returned(engine: Engine, *, timeout: float) -> None:
    """Wait (at most ``timeout`` seconds) until no connection of ``engine``'s pool is checked out."""
    checked_out = getattr(engine.pool, "checkedout", None)
    if checked_out is None:  # a pool that does not count (e.g. NullPool) closes on return
        return
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while checked_out() > 0 and loop.time() < deadline:  # noqa: ASYNC110 - the pool has no event to await
        await asyncio.sleep(0.02)
    if checked_out() > 0:
        log.warning("database connections still in use at shutdown", extra={"connections": checked_out()})
