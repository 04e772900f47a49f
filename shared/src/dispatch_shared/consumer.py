"""Idempotent event consumption: dedupe in the effect's transaction, commit after, dead-letter poison.

Each consumed event is applied in one database transaction that also records its CloudEvents id
in the service's processed-events table; a redelivered event finds its id and is skipped. Offsets
are committed only after the transaction, so a crash means redelivery, never loss. A message that
cannot be decoded or applied goes to ``<topic>.dlq`` with headers saying where it came from and why.
Database outages are not poison: the consumer waits and retries the same message.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Literal, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord
from aiokafka.errors import KafkaError
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlmodel import Field, Session, SQLModel

from dispatch_shared.cloudevents import Envelope, KafkaMessage, UndecodableMessage, decode
from dispatch_shared.db import UtcDateTime, transaction
from dispatch_shared.events import Event, Topic, dead_letter_topic, utcnow
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.logs import current_call_id
from dispatch_shared.metrics import EVENTS_CONSUMED, HANDLER_SECONDS

log = logging.getLogger(__name__)

Handler = Callable[[Session, Envelope], None]
Outcome = Literal["processed", "duplicate"]
E = TypeVar("E", bound=Event)


def handles(model: type[E], apply: Callable[[Session, E], None]) -> Handler:
    """A handler that applies events of ``model`` and rejects (dead-letters) any other type."""

    def handler(session: Session, envelope: Envelope) -> None:
        if not isinstance(envelope.event, model):
            raise TypeError(f"{envelope.type} is not a {model.__name__}")
        apply(session, envelope.event)

    return handler


class ProcessedEventRecord(SQLModel):
    """Columns of a processed-events (inbox) table; each service declares its own table."""

    event_id: str = Field(primary_key=True, max_length=64)
    topic: str = Field(max_length=200)
    processed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


def error_summary(exc: BaseException) -> str:
    """A short description of a failure that never echoes message content (narratives)."""
    if isinstance(exc, ValidationError):
        fields = ", ".join(".".join(map(str, e["loc"])) for e in exc.errors())
        return f"ValidationError at {fields}"[:500]
    return f"{exc.__class__.__name__}: {exc}"[:500]


class EventConsumer:
    """Consumes topics in a consumer group and applies each event exactly once to the database."""

    def __init__(
        self,
        *,
        engine: Engine,
        kafka: KafkaLink,
        inbox: type[ProcessedEventRecord],
        group_id: str,
        handlers: dict[Topic, Handler],
        after_commit: Callable[[], None] = lambda: None,
    ) -> None:
        self.engine = engine
        self.kafka = kafka
        self.inbox = inbox
        self.group_id = group_id
        self.handlers = handlers
        self.after_commit = after_commit
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Run in the background until ``stop``."""
        self._task = asyncio.create_task(self.run(), name=f"consumer-{self.group_id}")

    async def stop(self, timeout: float = 15) -> None:
        """Stop fetching, finish the message in hand, commit, leave the group."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._task, timeout)
        except TimeoutError:
            log.warning("consumer did not stop in time; cancelling", extra={"group": self.group_id})

    async def run(self) -> None:
        """Join the group and process until stopped, reconnecting after broker outages."""
        delay = 0.5
        while not self._stopping.is_set():
            consumer = AIOKafkaConsumer(
                *[self.kafka.topic_name(topic) for topic in self.handlers],
                bootstrap_servers=self.kafka.bootstrap_servers,
                group_id=self.group_id,
                client_id=f"{self.kafka.client_id}-consumer",
                enable_auto_commit=False,
                auto_offset_reset="earliest",
            )
            try:
                await consumer.start()
                delay = 0.5
                await self._consume(consumer)
            except KafkaError as exc:
                log.warning(
                    "consumer lost kafka, rejoining",
                    extra={"group": self.group_id, "error": exc.__class__.__name__},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
            finally:
                await consumer.stop()

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping.is_set():
            batches = await consumer.getmany(timeout_ms=250, max_records=200)
            for partition, records in batches.items():
                done = await self._process_records(records)
                if done:
                    await consumer.commit({partition: done[-1].offset + 1})
                if len(done) < len(records):
                    return  # stopping: the rest stays uncommitted and is redelivered

    async def _process_records(self, records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        done = []
        for record in records:
            if self._stopping.is_set():
                break
            if not await self._process(record):
                break
            done.append(record)
        if done:
            self.after_commit()
        return done

    async def _process(self, record: ConsumerRecord) -> bool:
        """Apply one record; False only when stopping before it could be applied."""
        try:
            envelope = decode(record.headers, record.value)
        except UndecodableMessage as exc:
            await self._dead_letter(record, exc)
            return True
        token = current_call_id.set(record.key.decode(errors="replace") if record.key else None)
        try:
            delay = 0.5
            while True:
                started = time.perf_counter()
                try:
                    outcome = await asyncio.to_thread(self._apply, record.topic, envelope)
                except OperationalError as exc:
                    # The database is away: not the message's fault. Wait and try again.
                    log.warning(
                        "database unavailable, retrying event",
                        extra={"error": exc.__class__.__name__, "retry_in_s": delay},
                    )
                    if self._stopping.is_set():
                        return False
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 10)
                    continue
                except Exception as exc:  # noqa: BLE001 - anything else is a poison message
                    await self._dead_letter(record, exc)
                    return True
                HANDLER_SECONDS.labels(record.topic).observe(time.perf_counter() - started)
                EVENTS_CONSUMED.labels(record.topic, outcome).inc()
                return True
        finally:
            current_call_id.reset(token)

    def _apply(self, topic: str, envelope: Envelope) -> Outcome:
        handler = self.handlers[self.kafka.contract_topic(topic)]
        try:
            with transaction(self.engine) as session:
                if session.get(self.inbox, envelope.id) is not None:
                    return "duplicate"
                session.add(self.inbox(event_id=envelope.id, topic=topic))
                session.flush()  # claim the id first, so a racing instance fails fast
                handler(session, envelope)
        except IntegrityError:
            with Session(self.engine) as session:
                if session.get(self.inbox, envelope.id) is not None:
                    return "duplicate"  # another instance applied it at the same moment
            raise
        return "processed"

    async def _dead_letter(self, record: ConsumerRecord, exc: BaseException) -> None:
        """Park the message on ``<topic>.dlq`` with its origin and the error, then move on."""
        headers = list(record.headers or ()) + [
            ("dlq_original_topic", record.topic.encode()),
            ("dlq_original_partition", str(record.partition).encode()),
            ("dlq_original_offset", str(record.offset).encode()),
            ("dlq_error", error_summary(exc).encode()),
            ("dlq_consumer_group", self.group_id.encode()),
        ]
        message = KafkaMessage(
            dead_letter_topic(record.topic), record.key or b"", record.value or b"", headers
        )
        log.error(
            "event dead-lettered",
            extra={
                "topic": record.topic,
                "partition": record.partition,
                "offset": record.offset,
                "error": error_summary(exc),
            },
        )
        await self.kafka.wait_connected()
        await self.kafka.send_batch([message])
        EVENTS_CONSUMED.labels(record.topic, "dead_lettered").inc()
