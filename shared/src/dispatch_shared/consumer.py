"""Supervised, idempotent event consumption: dedupe in the effect's transaction, commit after.

Each consumed event is applied in one database transaction that also records its CloudEvents id
in the service's processed-events table; a redelivered event finds its id and is skipped. Offsets
are committed only after the transaction, so a crash means redelivery, never loss.

Failures are told apart by type. A ``RecordFault`` (raised by decoding and validation, by a
handler rejecting the event, or for values the database refuses) is the record's own fault: the
record goes to ``<topic>.dlq`` with headers saying where it came from and why, and the consumer
goes on. Anything else (the database
away, the broker away while dead-lettering, a bug in our code) is not the record's fault: the same
record is retried with exponential backoff, so nothing valid is ever dead-lettered. If the consume
loop itself dies it is restarted, and ``health()`` tells readiness when the consumer is not running
or has stalled with records waiting.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal, TypeVar

from aiokafka import AIOKafkaConsumer, ConsumerRecord, TopicPartition
from aiokafka.errors import CorruptRecordException, KafkaError
from pydantic import ValidationError
from sqlalchemy.engine import Engine
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError
from sqlmodel import Field, Session, SQLModel

from dispatch_shared import tracing
from dispatch_shared.cloudevents import Envelope, FaultReason, KafkaMessage, RecordFault, decode
from dispatch_shared.db import UtcDateTime, transaction
from dispatch_shared.events import Event, Topic, dead_letter_topic, utcnow
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.logs import current_call_id
from dispatch_shared.metrics import (
    CONSUMER_LAG,
    CONSUMER_RESTARTS,
    DEAD_LETTERS,
    EVENTS_CONSUMED,
    HANDLER_SECONDS,
    declare_dead_letters,
)

log = logging.getLogger(__name__)

Handler = Callable[[Session, Envelope], None]
Applied = Literal["processed", "duplicate"]
Outcome = Literal["processed", "duplicate", "dead_lettered"]
Health = Literal["ok", "not_running", "restarting", "stalled"]
E = TypeVar("E", bound=Event)

RETRY_FIRST_SECONDS = 0.5
RETRY_MAX_SECONDS = 30.0
RESTART_FIRST_SECONDS = 1.0
RESTART_MAX_SECONDS = 60.0
# Errors aiokafka raises while parsing a fetched record (a header name that is not UTF-8, a bad CRC):
# the record's fault, but the client cannot say which record; see _skip_unreadable.
UNREADABLE_RECORD_ERRORS = (UnicodeDecodeError, CorruptRecordException)


@dataclass(frozen=True)
class EventHandler:
    """Applies the events of one model, and so consumes that model's topic (``model.topic``).

    Made by ``handles``; a consumer takes a list of them, so the topic is never stated apart
    from the model and a handler cannot be wired to a topic whose events it refuses.
    """

    model: type[Event]
    apply: Handler

    @property
    def topic(self) -> Topic:
        """The contract topic the model's events travel on."""
        return self.model.topic

    def __call__(self, session: Session, envelope: Envelope) -> None:
        self.apply(session, envelope)


def handles(
    model: type[E], apply: Callable[[Session, E], None], *, rejects: tuple[type[Exception], ...] = ()
) -> EventHandler:
    """A handler that applies events of ``model``, on ``model.topic``.

    Another event type on the topic is a ``RecordFault`` (dead-lettered). ``rejects`` names the
    domain exceptions by which ``apply`` says the event itself is wrong, e.g. it names a call this
    service does not have; they become a ``RecordFault`` too. Any other exception from ``apply`` is
    treated as ours (a bug, the database) and the event is retried.
    """

    def handler(session: Session, envelope: Envelope) -> None:
        if not isinstance(envelope.event, model):
            raise RecordFault(FaultReason.UNEXPECTED_TYPE, f"{envelope.type} is not a {model.__name__}")
        try:
            apply(session, envelope.event)
        except rejects as exc:
            raise RecordFault(FaultReason.REJECTED, error_summary(exc)) from exc

    return EventHandler(model, handler)


def by_topic(handlers: Sequence[EventHandler]) -> dict[Topic, EventHandler]:
    """Each handler under its model's topic.

    Raises ``ValueError`` for two handlers of one topic (which one would apply an event would be
    a matter of order).
    """
    table: dict[Topic, EventHandler] = {}
    for handler in handlers:
        if table.setdefault(handler.topic, handler) is not handler:
            raise ValueError(f"two handlers consume {handler.topic}")
    return table


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


def fault_summary(fault: RecordFault) -> str:
    """The ``dlq_error`` text: the handler's own exception for a rejection, else the fault itself."""
    if fault.reason is FaultReason.REJECTED and fault.__cause__ is not None:
        return error_summary(fault.__cause__)
    return error_summary(fault)


def _data_rejected(exc: DBAPIError) -> RecordFault:
    """The database refused the record's values (a constraint, a length, a range): its fault."""
    return RecordFault(FaultReason.DATA_REJECTED, f"{exc.__class__.__name__}: {exc.orig.__class__.__name__}")


def _logged_key(record: ConsumerRecord) -> str | None:
    """The record's key as logs carry it: a key is whatever a producer wrote, so at most an id's
    length (64 bytes) of it."""
    return record.key[:64].decode(errors="replace") if record.key else None


def dead_letter_message(
    *,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    value: bytes | None,
    headers: list[tuple[str, bytes | None]],
    fault: RecordFault,
    group_id: str,
) -> KafkaMessage:
    """The record as it came (key, value and headers, null header values included) for ``<topic>.dlq``.

    Adds ``dlq_original_topic``, ``dlq_original_partition``, ``dlq_original_offset``,
    ``dlq_error`` (exception class and detail, never the body), ``dlq_reason`` (the fault's class)
    and ``dlq_consumer_group``. A record with neither key nor value gets an empty key: the
    producer needs one of them.
    """
    headers = headers + [
        ("dlq_original_topic", topic.encode()),
        ("dlq_original_partition", str(partition).encode()),
        ("dlq_original_offset", str(offset).encode()),
        ("dlq_error", fault_summary(fault).encode()),
        ("dlq_reason", fault.reason.value.encode()),
        ("dlq_consumer_group", group_id.encode()),
    ]
    if key is None and value is None:
        key = b""
    return KafkaMessage(dead_letter_topic(topic), key, value, headers)


class EventConsumer:
    """Consumes topics in a consumer group and applies each event exactly once to the database.

    ``handlers``: one per event model consumed (see ``handles``); the consumer subscribes to their
    models' topics. Raises ``ValueError`` when two handle one topic (see ``by_topic``).
    ``stall_seconds``: with records waiting (lag above 0), this long without finishing one makes
    ``health()`` say "stalled". ``lag_interval``: seconds between lag measurements.
    ``retry_seconds`` and ``restart_seconds``: the first backoff (doubling from there) before a
    record that failed through no fault of its own is tried again, and before a loop that died
    is started again. ``client_factory``: makes the (not yet started) Kafka consumer client of
    each run of the loop; by default an ``AIOKafkaConsumer`` of the handlers' topics in the group.
    """

    def __init__(
        self,
        *,
        engine: Engine,
        kafka: KafkaLink,
        inbox: type[ProcessedEventRecord],
        group_id: str,
        handlers: Sequence[EventHandler],
        after_commit: Callable[[], None] = lambda: None,
        stall_seconds: float = 60.0,
        lag_interval: float = 5.0,
        retry_seconds: float = RETRY_FIRST_SECONDS,
        restart_seconds: float = RESTART_FIRST_SECONDS,
        client_factory: Callable[[], AIOKafkaConsumer] | None = None,
    ) -> None:
        self.engine = engine
        self.kafka = kafka
        self.inbox = inbox
        self.group_id = group_id
        self.handlers = by_topic(handlers)
        self.after_commit = after_commit
        self.stall_seconds = stall_seconds
        self.lag_interval = lag_interval
        self.retry_seconds = retry_seconds
        self.restart_seconds = restart_seconds
        self.client_factory = client_factory or self._kafka_client
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self._restarting = False
        self._next_offsets: dict[TopicPartition, int] = {}
        self._lag: dict[TopicPartition, int] = {}
        self._last_progress = time.monotonic()

    def start(self) -> None:
        """Run in the background, supervised, until ``stop``."""
        declare_dead_letters(map(self.kafka.topic_name, self.handlers))  # the first one shows as a rise
        self._last_progress = time.monotonic()
        self._task = asyncio.create_task(self._supervise(), name=f"consumer-{self.group_id}")

    async def stop(self, timeout: float = 15) -> None:
        """Stop fetching, finish the message in hand, commit, leave the group."""
        self._stopping.set()
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._task, timeout)
        except TimeoutError:
            log.warning("consumer did not stop in time; cancelling", extra={"group": self.group_id})

    def health(self) -> Health:
        """'ok'; 'not_running' (not started, stopped, or its task ended); 'restarting' (the loop
        died and waits to start again); or 'stalled' (records are waiting and none was finished
        for ``stall_seconds``, as when a record keeps failing on a bug or the database)."""
        if self._task is None or self._task.done() or self._stopping.is_set():
            return "not_running"
        if self._restarting:
            return "restarting"
        idle = time.monotonic() - self._last_progress
        if sum(self._lag.values()) > 0 and idle > self.stall_seconds:
            return "stalled"
        return "ok"

    async def _supervise(self) -> None:
        """Keep ``run`` going: when it dies on an unexpected error, log the error's class and start
        it again after a backoff of ``restart_seconds`` (1 s by default) doubling to at most 60 s
        (back to the first once it has run for a minute)."""
        delay = self.restart_seconds
        while not self._stopping.is_set():
            started = time.monotonic()
            try:
                await self.run()
            except Exception as exc:  # noqa: BLE001 - whatever killed the loop, the loop must go on
                if time.monotonic() - started > RESTART_MAX_SECONDS:
                    delay = self.restart_seconds
                CONSUMER_RESTARTS.inc()
                log.error(
                    "consumer loop died, restarting",
                    extra={"group": self.group_id, "error": exc.__class__.__name__, "restart_in_s": delay},
                )
                self._restarting = True
                await self._pause(delay)
                self._restarting = False
                delay = min(delay * 2, RESTART_MAX_SECONDS)

    async def _pause(self, seconds: float) -> bool:
        """Sleep ``seconds`` or until stopping; True when stopping."""
        try:
            await asyncio.wait_for(self._stopping.wait(), seconds)
        except TimeoutError:
            return False
        return True

    async def run(self) -> None:
        """Join the group and process until stopped, reconnecting after broker outages.

        Exceptions other than Kafka errors propagate; ``start`` runs this under a supervisor
        that restarts it.
        """
        delay = 0.5
        while not self._stopping.is_set():
            consumer = self.client_factory()
            self._next_offsets.clear()
            watcher: asyncio.Task[None] | None = None
            try:
                await consumer.start()
                delay = 0.5
                watcher = asyncio.create_task(self._watch_lag(consumer), name=f"lag-{self.group_id}")
                await self._consume(consumer)
            except KafkaError as exc:
                log.warning(
                    "consumer lost kafka, rejoining",
                    extra={"group": self.group_id, "error": exc.__class__.__name__},
                )
                await self._pause(delay)
                delay = min(delay * 2, 10)
            finally:
                if watcher is not None:
                    watcher.cancel()
                await consumer.stop()

    def _kafka_client(self) -> AIOKafkaConsumer:
        """The group's consumer of the handlers' topics; offsets are committed by hand."""
        return AIOKafkaConsumer(
            *[self.kafka.topic_name(topic) for topic in self.handlers],
            bootstrap_servers=self.kafka.bootstrap_servers,
            group_id=self.group_id,
            client_id=f"{self.kafka.client_id}-consumer",
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        )

    async def _consume(self, consumer: AIOKafkaConsumer) -> None:
        while not self._stopping.is_set():
            try:
                batches = await consumer.getmany(timeout_ms=250, max_records=200)
            except UNREADABLE_RECORD_ERRORS as exc:
                await self._skip_unreadable(consumer, exc)
                continue
            for partition, records in batches.items():
                done = await self._process_records(records)
                if done:
                    await consumer.commit({partition: done[-1].offset + 1})
                if len(done) < len(records):
                    return  # stopping: the rest stays uncommitted and is redelivered

    async def _skip_unreadable(self, consumer: AIOKafkaConsumer, first: Exception) -> None:
        """Dead-letter the coordinates of a record the client cannot parse, and seek past it.

        aiokafka raises without saying which partition, and drops the records it parsed before the
        bad one, so every assigned partition is first rewound to the next record this consumer
        has to process. Partitions with records waiting are then read one record at a time
        (records read on the way are processed as usual) until the error comes back: the
        partition's position is then the unreadable record. Its body cannot be read, so the dead
        letter carries only its coordinates. A record after it in the same producer batch cannot
        be parsed by this client either and is dead-lettered the same way; a raw reader recovers
        it from the original topic by offset.
        """
        log.error(
            "unreadable record fetched, locating it",
            extra={"group": self.group_id, "error": first.__class__.__name__},
        )
        assigned = sorted(consumer.assignment())
        starts = {tp: await self._rewind(consumer, tp) for tp in assigned}
        ends = await consumer.end_offsets(assigned) if assigned else {}
        for tp in (tp for tp in assigned if starts[tp] is None or starts[tp] < ends[tp]):
            while not self._stopping.is_set():
                try:
                    batches = await consumer.getmany(tp, timeout_ms=1000, max_records=1)
                except UNREADABLE_RECORD_ERRORS as exc:
                    offset = await consumer.position(tp)
                    fault = RecordFault(
                        FaultReason.UNREADABLE, f"unreadable record: {exc.__class__.__name__}"
                    )
                    message = dead_letter_message(
                        topic=tp.topic,
                        partition=tp.partition,
                        offset=offset,
                        key=b"",
                        value=None,
                        headers=[],
                        fault=fault,
                        group_id=self.group_id,
                    )
                    await self._send_dead_letter(message, tp.topic, tp.partition, offset, fault)
                    consumer.seek(tp, offset + 1)
                    await consumer.commit({tp: offset + 1})
                    self._finished(tp, offset)
                    return
                records = batches.get(tp, [])
                if not records:
                    break
                done = await self._process_records(records)
                if done:
                    await consumer.commit({tp: done[-1].offset + 1})
                if len(done) < len(records):
                    return

    async def _rewind(self, consumer: AIOKafkaConsumer, tp: TopicPartition) -> int | None:
        """Seek ``tp`` back to the next record to process (None: from the start, nothing committed)."""
        offset = self._next_offsets.get(tp)
        if offset is None:
            offset = await consumer.committed(tp)
        if offset is None:
            await consumer.seek_to_beginning(tp)
        else:
            consumer.seek(tp, offset)
        return offset

    async def _watch_lag(self, consumer: AIOKafkaConsumer) -> None:
        """Every ``lag_interval`` seconds, measure each assigned partition's lag for metrics and health."""
        while True:
            await asyncio.sleep(self.lag_interval)
            try:
                await self._measure_lag(consumer)
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning(
                    "consumer lag unknown", extra={"group": self.group_id, "error": exc.__class__.__name__}
                )

    async def _measure_lag(self, consumer: AIOKafkaConsumer) -> None:
        assigned = set(consumer.assignment())
        for gone in set(self._lag) - assigned:
            del self._lag[gone]
            CONSUMER_LAG.remove(gone.topic, str(gone.partition))
        if not assigned:
            return
        ends = await asyncio.wait_for(consumer.end_offsets(list(assigned)), 10)
        for tp in assigned:
            next_offset = self._next_offsets.get(tp)
            if next_offset is None:
                next_offset = await asyncio.wait_for(consumer.position(tp), 10)
            self._lag[tp] = max(0, ends[tp] - next_offset)
            CONSUMER_LAG.labels(tp.topic, str(tp.partition)).set(self._lag[tp])
        if sum(self._lag.values()) == 0:
            self._last_progress = time.monotonic()  # caught up: nothing is waiting, nothing is stalled

    def _finished(self, tp: TopicPartition, offset: int) -> None:
        self._next_offsets[tp] = offset + 1
        self._last_progress = time.monotonic()

    async def _process_records(self, records: list[ConsumerRecord]) -> list[ConsumerRecord]:
        """Settle ``records`` (one partition's, in offset order); returns those settled, a prefix.

        The records are first applied together in one transaction (``_apply_batch``). When that
        fails for any reason (a record at fault, the database away) nothing of it stays, and each
        record is settled on its own as before: applied, dead-lettered, or retried.
        """
        if len(records) > 1 and not self._stopping.is_set() and await self._apply_batch(records):
            self.after_commit()
            return records
        done = []
        for record in records:
            if self._stopping.is_set():
                break
            tp = TopicPartition(record.topic, record.partition)
            self._next_offsets[tp] = record.offset
            if not await self._process(record):
                break
            self._finished(tp, record.offset)
            done.append(record)
        if done:
            self.after_commit()
        return done

    async def _apply_batch(self, records: list[ConsumerRecord]) -> bool:
        """Apply every record in one database transaction, each with its own idempotency record;
        False (and nothing applied) when any record cannot be decoded or applied.

        One transaction per fetched batch instead of one per event is what lets a consumer keep up
        with a burst: the commit and the session set-up are paid once.
        """
        started = time.perf_counter()
        try:
            envelopes = [decode(record.headers or (), record.value) for record in records]
            outcomes = await asyncio.to_thread(self._apply_all, records, envelopes)
        except Exception as exc:  # noqa: BLE001 - settled one by one next, where each failure is handled
            log.debug(
                "batch not applied, settling its records one by one",
                extra={"group": self.group_id, "records": len(records), "error": exc.__class__.__name__},
            )
            return False
        each = (time.perf_counter() - started) / len(records)
        for record, outcome in zip(records, outcomes, strict=True):
            self._finished(TopicPartition(record.topic, record.partition), record.offset)
            HANDLER_SECONDS.labels(record.topic).observe(each)
            EVENTS_CONSUMED.labels(record.topic, outcome).inc()
        return True

    def _apply_all(self, records: list[ConsumerRecord], envelopes: list[Envelope]) -> list[Applied]:
        outcomes: list[Applied] = []
        with transaction(self.engine) as session:
            for record, envelope in zip(records, envelopes, strict=True):
                token = current_call_id.set(_logged_key(record))
                handling = tracing.handling_span(record.topic, record.headers or ())
                try:
                    outcomes.append(self._apply_in(session, record.topic, envelope))
                finally:
                    handling.end()
                    current_call_id.reset(token)
        return outcomes

    async def _process(self, record: ConsumerRecord) -> bool:
        """Apply or dead-letter one record; False only when stopping before it was settled.

        A ``RecordFault`` dead-letters the record at once. Any other exception is not the record's
        fault, so the same record is retried: after ``retry_seconds`` (0.5 s by default), doubling
        to at most 30 s between tries, for as long as it takes (a valid call is never dropped;
        while it waits, ``health()`` reports the stall). Each retry is logged with the exception's
        class only.
        """
        token = current_call_id.set(_logged_key(record))
        handling = tracing.handling_span(record.topic, record.headers or ())  # the writer's trace goes on
        try:
            delay = self.retry_seconds
            attempt = 1
            while True:
                started = time.perf_counter()
                try:
                    outcome = await self._settle(record)
                except Exception as exc:  # noqa: BLE001 - not the record's fault: retry, never drop
                    log.warning(
                        "event not applied, retrying",
                        extra={
                            "topic": record.topic,
                            "partition": record.partition,
                            "offset": record.offset,
                            "error": exc.__class__.__name__,
                            "attempt": attempt,
                            "retry_in_s": delay,
                        },
                    )
                    if await self._pause(delay):
                        return False
                    delay = min(delay * 2, RETRY_MAX_SECONDS)
                    attempt += 1
                    continue
                if outcome != "dead_lettered":
                    HANDLER_SECONDS.labels(record.topic).observe(time.perf_counter() - started)
                EVENTS_CONSUMED.labels(record.topic, outcome).inc()
                return True
        finally:
            handling.end()
            current_call_id.reset(token)

    async def _settle(self, record: ConsumerRecord) -> Outcome:
        """Decode and apply the record, or dead-letter it when it is at fault."""
        try:
            envelope = decode(record.headers or (), record.value)
            return await asyncio.to_thread(self._apply, record.topic, envelope)
        except RecordFault as fault:
            message = dead_letter_message(
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                value=record.value,
                headers=list(record.headers or ()),
                fault=fault,
                group_id=self.group_id,
            )
            await self._send_dead_letter(message, record.topic, record.partition, record.offset, fault)
            return "dead_lettered"

    def _apply_in(self, session: Session, topic: str, envelope: Envelope) -> Applied:
        """Record the event's id in the inbox and apply it, in ``session``'s transaction."""
        if session.get(self.inbox, envelope.id) is not None:
            return "duplicate"
        session.add(self.inbox(event_id=envelope.id, topic=topic))
        session.flush()  # claim the id first, so a racing instance fails fast
        self.handlers[self.kafka.contract_topic(topic)](session, envelope)
        return "processed"

    def _apply(self, topic: str, envelope: Envelope) -> Applied:
        try:
            with transaction(self.engine) as session:
                return self._apply_in(session, topic, envelope)
        except IntegrityError as exc:
            with Session(self.engine) as session:
                if session.get(self.inbox, envelope.id) is not None:
                    return "duplicate"  # another instance applied it at the same moment
            raise _data_rejected(exc) from exc
        except DataError as exc:
            raise _data_rejected(exc) from exc

    async def _send_dead_letter(
        self, message: KafkaMessage, topic: str, partition: int, offset: int, fault: RecordFault
    ) -> None:
        """Park a message on the dead-letter topic; Kafka errors propagate and the record is retried."""
        log.error(
            "event dead-lettered",
            extra={
                "topic": topic,
                "partition": partition,
                "offset": offset,
                "reason": fault.reason.value,
                "error": fault_summary(fault),
            },
        )
        await self.kafka.wait_connected()
        await self.kafka.send_batch([message])
        DEAD_LETTERS.labels(topic, fault.reason.value).inc()
