"""Transactional outbox: events are rows written with the state change, and a relay ships them.

A service never publishes directly. It calls ``Outbox.add(session, event)`` inside the same
transaction as its state change, so an event exists if and only if the change committed; the
relay then delivers rows to Kafka in order and marks sent exactly the rows the broker acknowledged.
A Kafka outage only grows the backlog. Delivery is at-least-once: consumers deduplicate on the
CloudEvents id.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, update
from sqlalchemy.engine import Engine
from sqlmodel import Field, Session, SQLModel, col, select

from dispatch_shared import tracing
from dispatch_shared.cloudevents import EncodedEvent, KafkaMessage, encode_event
from dispatch_shared.db import UtcDateTime
from dispatch_shared.events import Event, utcnow
from dispatch_shared.kafka import Delivery
from dispatch_shared.metrics import EVENTS_PUBLISHED, OUTBOX_BACKLOG, OUTBOX_OLDEST_SECONDS

log = logging.getLogger(__name__)

MAX_RETRY_DELAY_S = 10.0


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
    # W3C traceparent of the span whose transaction wrote the row; sent as ce_traceparent.
    traceparent: str | None = Field(default=None, max_length=55)


class Outbox:
    """Writes events into a service's outbox table."""

    def __init__(self, table: type[OutboxRecord], *, source: str) -> None:
        self.table = table
        self.source = source

    def add(self, session: Session, event: Event) -> str:
        """Stage ``event`` in the caller's transaction; returns its CloudEvents id.

        The row holds the event as ``cloudevents.encode_event`` encodes it: its write time is the
        event's ``ce_time``.
        """
        encoded = encode_event(event, source=self.source)
        session.add(
            self.table(
                event_id=encoded.id,
                topic=encoded.topic,
                key=encoded.key,
                ce_type=encoded.type,
                source=encoded.source,
                payload=encoded.data,
                traceparent=encoded.traceparent,
                created_at=encoded.time,
            )
        )
        return encoded.id


class EventLink(Protocol):
    """What the relay needs of a Kafka link; ``dispatch_shared.kafka.KafkaLink`` is the real one."""

    @property
    def connected(self) -> bool: ...

    def topic_name(self, topic: str) -> str: ...

    async def deliver(
        self, messages: Sequence[KafkaMessage], *, timeout: float | None = None
    ) -> Delivery: ...


def _message(row: OutboxRecord, topic: str) -> KafkaMessage:
    # Built from the stored row so a redelivery carries the same ce_id and time.
    encoded = EncodedEvent(
        id=row.event_id,
        source=row.source,
        type=row.ce_type,
        time=row.created_at,
        topic=row.topic,
        key=row.key,
        data=row.payload,
        traceparent=row.traceparent,
    )
    return encoded.message(topic)


class OutboxRelay:
    """Delivers unsent outbox rows to Kafka, oldest first, and marks sent exactly those acknowledged.

    Every ``poll_seconds``, whatever the delivery under way is doing and whether Kafka is connected
    or not, it sets ``dispatch_outbox_backlog`` (unsent rows) and ``dispatch_outbox_oldest_seconds``
    (age of the oldest unsent row) from the table. While the link is not connected it sends nothing.
    """

    def __init__(
        self,
        engine: Engine,
        table: type[OutboxRecord],
        kafka: EventLink,
        *,
        poll_seconds: float,
        batch_size: int = 200,
    ) -> None:
        self.engine = engine
        self.table = table
        self.kafka = kafka
        self.poll_seconds = poll_seconds
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._stop_at: float | None = None
        self._cutoff: asyncio.Timeout | None = None  # bounds the delivery under way, moved by stop_soon
        self._loop: asyncio.AbstractEventLoop | None = None

    def wake(self) -> None:
        """Ask for a delivery pass now; safe to call from worker threads."""
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._wake.set)

    def stop_soon(self, timeout: float) -> None:
        """Ask ``run`` to end: it delivers what it can while Kafka is connected, for at most
        ``timeout`` seconds (each delivery is cut to the time left), then returns. A delivery
        under way while Kafka is not connected is given up at once."""
        now = asyncio.get_running_loop().time()
        self._stop_at = now + timeout
        if self._cutoff is not None:
            self._cutoff.reschedule(self._stop_at if self.kafka.connected else now)
        self._wake.set()

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
        with self.engine.begin() as connection:  # one statement for the whole batch
            connection.execute(update(self.table).where(col(self.table.id).in_(ids)).values(sent_at=utcnow()))

    def backlog(self) -> tuple[int, datetime | None]:
        """How many events wait for delivery, and when the oldest was written (UTC)."""
        with Session(self.engine) as session:
            count, oldest = session.exec(
                select(func.count(), func.min(self.table.created_at)).where(col(self.table.sent_at).is_(None))
            ).one()
            return int(count), oldest

    async def observe_backlog(self) -> None:
        """Set the backlog gauges from the table; if the database cannot answer they keep their values."""
        try:
            count, oldest = await asyncio.to_thread(self.backlog)
        except Exception as exc:  # noqa: BLE001 - the database restarting: next pass
            log.debug("outbox backlog unknown", extra={"error": exc.__class__.__name__})
            return
        OUTBOX_BACKLOG.set(count)
        OUTBOX_OLDEST_SECONDS.set(max((utcnow() - oldest).total_seconds(), 0.0) if oldest else 0.0)

    async def deliver_once(self, timeout: float | None = None) -> int:
        """Deliver one batch of the oldest unsent rows; returns how many the broker acknowledged.

        Exactly the acknowledged rows are marked sent, even when others failed. ``timeout`` caps
        the wait for acknowledgements (seconds; the link's delivery timeout when None).
        Raises the link's ``KafkaError`` when any row was not acknowledged (after marking the rest).
        """
        rows = await asyncio.to_thread(self._pending)
        if not rows:
            return 0
        spans = tracing.begin_sends(rows)  # none unless spans are exported
        delivery = await self.kafka.deliver(
            [_message(row, self.kafka.topic_name(row.topic)) for row in rows], timeout=timeout
        )
        tracing.end_sends(spans, delivery.acknowledged)
        sent = [row for row, ok in zip(rows, delivery.acknowledged, strict=True) if ok]
        if sent:
            await asyncio.to_thread(self._mark_sent, [row.id for row in sent if row.id is not None])
        for row in sent:
            EVENTS_PUBLISHED.labels(row.topic).inc()
        if delivery.error is not None:
            log.warning(
                "outbox delivery incomplete",
                extra={
                    "acknowledged": len(sent),
                    "unsent": len(rows) - len(sent),
                    "error": delivery.error.__class__.__name__,
                },
            )
            raise delivery.error
        return len(sent)

    async def run(self) -> None:
        """Deliver until ``stop_soon``; then make the last deliveries its timeout allows."""
        self._loop = asyncio.get_running_loop()
        watcher = asyncio.create_task(self._watch_backlog(), name="outbox-backlog")
        try:
            await self._relay()
        finally:
            watcher.cancel()

    async def _watch_backlog(self) -> None:
        while True:
            await self.observe_backlog()
            await asyncio.sleep(self.poll_seconds)

    async def _relay(self) -> None:
        delay = self.poll_seconds
        while self._stop_at is None:
            self._wake.clear()
            sent = 0
            if self.kafka.connected:
                try:
                    async with asyncio.timeout(self._stop_at) as self._cutoff:
                        sent = await self.deliver_once()
                    delay = self.poll_seconds
                except Exception as exc:  # noqa: BLE001 - any failure: unsent rows stay, retry later
                    log.warning(
                        "outbox delivery failed, will retry",
                        extra={"error": exc.__class__.__name__, "retry_in_s": delay},
                    )
                    delay = min(delay * 2, MAX_RETRY_DELAY_S)
                finally:
                    self._cutoff = None
            if sent:
                continue
            try:
                await asyncio.wait_for(self._wake.wait(), delay)
            except TimeoutError:
                pass
        await self._drain(self._stop_at)

    async def _drain(self, stop_at: float) -> None:
        loop = asyncio.get_running_loop()
        try:
            while self.kafka.connected and (left := stop_at - loop.time()) > 0:
                if not await self.deliver_once(timeout=left):
                    break
        except Exception as exc:  # noqa: BLE001 - shutdown must go on; rows stay for the next start
            log.warning("outbox flush incomplete", extra={"error": exc.__class__.__name__})
        await self.observe_backlog()
