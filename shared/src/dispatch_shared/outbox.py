"""Transactional outbox: events are rows written with the state change, and a relay ships them.

A service never publishes directly. It calls ``Outbox.add(session, event)`` inside the same
transaction as its state change, so an event exists if and only if the change committed; the
relay then delivers rows to Kafka in order and marks them sent. A Kafka outage only grows the
backlog. Delivery is at-least-once: consumers deduplicate on the CloudEvents id.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import datetime

from sqlalchemy import func
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from dispatch_shared.cloudevents import KafkaMessage, ce_headers, new_event_id
from dispatch_shared.db import UtcDateTime, transaction
from dispatch_shared.events import Event, utcnow
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_SECONDS

log = logging.getLogger(__name__)


class OutboxRecord(SQLModel):
    """Columns of an outbox table; each service declares its own table from this base."""

    id: int | None = Field(default=None, primary_key=True)
    event_id: str = Field(unique=True, max_length=64)
    topic: str = Field(max_length=200)
    key: str = Field(max_length=200)
    ce_type: str = Field(max_length=200)
    source: str = Field(max_length=200)
    payload: str
    created_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    sent_at: datetime | None = Field(default=None, index=True, sa_type=UtcDateTime)


class Outbox:
    """Writes events into a service's outbox table."""

    def __init__(self, table: type[OutboxRecord], *, source: str) -> None:
        self.table = table
        self.source = source

    def add(self, session: Session, event: Event) -> str:
        """Stage ``event`` in the caller's transaction; returns its CloudEvents id."""
        event_id = new_event_id()
        session.add(
            self.table(
                event_id=event_id,
                topic=event.topic.value,
                key=event.key(),
                ce_type=event.ce_type,
                source=self.source,
                payload=event.model_dump_json(),
            )
        )
        return event_id


def _message(row: OutboxRecord, topic: str) -> KafkaMessage:
    # Built from the stored row so a redelivery carries the same ce_id and time.
    headers = ce_headers(event_id=row.event_id, source=row.source, ce_type=row.ce_type, time=row.created_at)
    return KafkaMessage(topic, row.key.encode(), row.payload.encode(), headers)


class OutboxRelay:
    """Delivers unsent outbox rows to Kafka, oldest first, and marks them sent."""

    def __init__(
        self, engine: Engine, table: type[OutboxRecord], kafka: KafkaLink, *, poll_seconds: float
    ) -> None:
        self.engine = engine
        self.table = table
        self.kafka = kafka
        self.poll_seconds = poll_seconds
        self.batch_size = 200
        self._wake = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Ask for a delivery pass now; safe to call from worker threads."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def _pending(self) -> list[OutboxRecord]:
        with Session(self.engine, expire_on_commit=False) as session:
            rows = session.exec(
                select(self.table)
                .where(col(self.table.sent_at).is_(None))
                .order_by(col(self.table.id))
                .limit(self.batch_size)
            ).all()
            return list(rows)

    def _mark_sent(self, ids: list[int]) -> None:
        with transaction(self.engine) as session:
            for row in session.exec(select(self.table).where(col(self.table.id).in_(ids))):
                row.sent_at = utcnow()

    def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait for delivery, and when the oldest was written."""
        with Session(self.engine) as session:
            count, oldest = session.exec(
                select(func.count(), func.min(self.table.created_at)).where(col(self.table.sent_at).is_(None))
            ).one()
            return int(count), oldest

    async def deliver_once(self) -> int:
        """Deliver one batch; returns how many rows were sent."""
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        await self.kafka.send_batch([_message(row, self.kafka.topic_name(row.topic)) for row in rows])
        await asyncio.to_thread(self._mark_sent, [row.id for row in rows if row.id is not None])
        for row in rows:
            EVENTS_PUBLISHED.labels(row.topic).inc()
        return len(rows)

    async def _observe_backlog(self) -> None:
        count, oldest = await asyncio.to_thread(self.backlog)
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST_SECONDS.set((utcnow() - oldest).total_seconds() if oldest else 0)

    async def run(self) -> None:
        """Deliver until cancelled; on cancellation make one last pass if Kafka is up."""
        self._loop = asyncio.get_running_loop()
        delay = self.poll_seconds
        try:
            while True:
                await self.kafka.wait_connected()
                try:
                    sent = await self.deliver_once()
                    await self._observe_backlog()
                    delay = self.poll_seconds
                except Exception as exc:  # noqa: BLE001 - any failure: keep rows, retry later
                    log.warning(
                        "outbox delivery failed, will retry",
                        extra={"error": exc.__class__.__name__, "retry_in_s": delay},
                    )
                    sent = 0
                    delay = min(delay * 2, 10)
                if sent:
                    continue
                self._wake.clear()
                try:
                    await asyncio.wait_for(self._wake.wait(), delay)
                except TimeoutError:
                    pass
        except asyncio.CancelledError:
            await self.flush()
            raise

    async def flush(self, timeout: float = 10) -> None:
        """Deliver what is pending (used on graceful shutdown)."""
        if not self.kafka.connected:
            return
        try:
            async with asyncio.timeout(timeout):
                while await self.deliver_once():
                    pass
        except Exception as exc:  # noqa: BLE001 - shutdown must go on; rows stay for next start
            log.warning("outbox flush incomplete", extra={"error": exc.__class__.__name__})
