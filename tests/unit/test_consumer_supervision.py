"""The consumer's supervision, run for real on SQLite with records from an in-process partition.

Only the Kafka client is replaced (by ``client_factory``): ``PartitionLog`` holds one partition's
records and the group's committed offset, and each run of the consume loop reads it through a new
``LogReader``, as a rejoined Kafka consumer would. Everything else (the supervisor, the batch and
one-record paths, the retry backoff, the inbox, lag and health) is the real ``EventConsumer``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from uuid import uuid4

import pytest
from aiokafka.structs import ConsumerRecord, TopicPartition
from dispatch_shared.cloudevents import encode
from dispatch_shared.consumer import EventConsumer, handles
from dispatch_shared.db import make_engine
from dispatch_shared.events import CallReceived, Topic
from dispatch_shared.kafka import KafkaLink
from intake.models import IntakeProcessedEvent
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine
from sqlmodel import Session, SQLModel, select

from tests.stack import unique


@dataclass
class PartitionLog:
    """One partition of a topic and its consumer group's committed offset."""

    topic: str
    records: list[ConsumerRecord] = field(default_factory=list)
    committed: int = 0
    readers: int = 0  # clients made: one per run of the consume loop

    @property
    def partition(self) -> TopicPartition:
        return TopicPartition(self.topic, 0)

    def append(self, event: CallReceived) -> None:
        message = encode(event, source="/test")
        self.records.append(
            ConsumerRecord(
                topic=self.topic,
                partition=0,
                offset=len(self.records),
                timestamp=0,
                timestamp_type=0,
                key=message.key,
                value=message.value,
                checksum=None,
                serialized_key_size=len(message.key or b""),
                serialized_value_size=len(message.value or b""),
                headers=list(message.headers),
            )
        )

    def reader(self) -> LogReader:
        self.readers += 1
        return LogReader(self)


class LogReader:
    """The calls ``EventConsumer`` makes on its Kafka client, served from a ``PartitionLog``."""

    def __init__(self, log: PartitionLog) -> None:
        self.log = log
        self.next_offset = log.committed  # a rejoining consumer starts at the committed offset

    async def start(self) -> None:
        self.next_offset = self.log.committed

    async def stop(self) -> None:
        pass

    def assignment(self) -> set[TopicPartition]:
        return {self.log.partition}

    async def getmany(
        self, *partitions: TopicPartition, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[TopicPartition, list[ConsumerRecord]]:
        end = len(self.log.records) if max_records is None else self.next_offset + max_records
        records = self.log.records[self.next_offset : end]
        if not records:
            await asyncio.sleep(timeout_ms / 1000)
            return {}
        self.next_offset += len(records)
        return {self.log.partition: records}

    async def commit(self, offsets: dict[TopicPartition, int]) -> None:
        self.log.committed = offsets[self.log.partition]

    async def end_offsets(self, partitions: list[TopicPartition]) -> dict[TopicPartition, int]:
        return {tp: len(self.log.records) for tp in partitions}

    async def position(self, tp: TopicPartition) -> int:
        return self.next_offset


@dataclass
class Harness:
    engine: Engine
    log: PartitionLog
    applied: list[str] = field(default_factory=list)  # call ids, in the order the handler saw them
    failing: type[Exception] | None = None  # while set, the handler fails with this (a bug of ours)

    def consumer(
        self, *, after_commit: Callable[[], None] = lambda: None, stall_seconds: float = 60
    ) -> EventConsumer:
        namespace = self.log.topic.removesuffix(Topic.CALLS_RECEIVED.value)

        def apply(session: Session, event: CallReceived) -> None:
            if self.failing is not None:
                raise self.failing("the handler failed")
            self.applied.append(str(event.call_id))

        return EventConsumer(
            engine=self.engine,
            kafka=KafkaLink("127.0.0.1:1", client_id="test", partitions=1, namespace=namespace),
            inbox=IntakeProcessedEvent,
            group_id="supervision-test",
            handlers=[handles(CallReceived, apply)],
            after_commit=after_commit,
            stall_seconds=stall_seconds,
            lag_interval=0.05,
            retry_seconds=0.05,
            restart_seconds=0.1,
            client_factory=self.log.reader,
        )

    def create_inbox(self) -> None:
        SQLModel.metadata.create_all(self.engine, tables=[IntakeProcessedEvent.__table__])  # type: ignore[attr-defined]

    def inbox_ids(self) -> set[str]:
        with Session(self.engine) as session:
            return set(session.exec(select(IntakeProcessedEvent.event_id)).all())


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[Harness]:
    engine = make_engine(f"sqlite:///{tmp_path / 'consumer.db'}")
    yield Harness(engine, PartitionLog(unique("t") + "." + Topic.CALLS_RECEIVED.value))
    engine.dispose()


def call(number: int) -> CallReceived:
    return CallReceived(
        call_id=uuid4(),
        cad_incident_id=f"CAD-{number}",
        narrative="caller reports a neighbour shouting in the hallway",
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


async def eventually(what: str, check: Callable[[], bool], timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout} s")
        await asyncio.sleep(0.01)


def extra(record: logging.LogRecord, name: str) -> object:
    """A field the log call passed in ``extra``."""
    return record.__dict__[name]


def logged(caplog: pytest.LogCaptureFixture, message: str) -> list[logging.LogRecord]:
    return [record for record in caplog.records if record.getMessage() == message]


async def test_a_loop_that_dies_is_restarted_counted_and_applies_each_event_once(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    harness.create_inbox()
    for number in range(3):
        harness.log.append(call(number))
    wake_failures = [RuntimeError("the relay could not be woken")]

    def after_commit() -> None:  # runs in the loop after each commit, outside any retry
        if wake_failures:
            raise wake_failures.pop()

    consumer = harness.consumer(after_commit=after_commit)
    restarts = counter("dispatch_consumer_restarts_total")
    seen: set[str] = set()
    consumer.start()
    try:
        deadline = time.monotonic() + 10
        while harness.log.committed < 3 and time.monotonic() < deadline:
            seen.add(consumer.health())
            await asyncio.sleep(0.01)
        assert harness.log.committed == 3
        assert consumer.health() == "ok"
    finally:
        await consumer.stop(timeout=5)

    assert counter("dispatch_consumer_restarts_total") - restarts == 1
    assert "restarting" in seen
    assert harness.log.readers == 2  # the loop ran again, from the committed offset
    died = logged(caplog, "consumer loop died, restarting")
    assert [extra(record, "error") for record in died] == ["RuntimeError"]
    # The batch the dead loop applied but never committed came again and was a duplicate.
    assert sorted(harness.applied) == sorted(str(decoded(r).call_id) for r in harness.log.records)
    assert len(harness.inbox_ids()) == 3
    assert consumer.health() == "not_running"


def decoded(record: ConsumerRecord) -> CallReceived:
    assert record.value is not None
    return CallReceived.model_validate_json(record.value)


async def test_a_database_error_is_retried_with_backoff_then_applied_not_dead_lettered(
    harness: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # No inbox table yet: every attempt fails in the database, as when it is away or not migrated.
    for number in range(2):
        harness.log.append(call(number))
    topic = harness.log.topic
    consumer = harness.consumer()
    consumer.start()
    try:
        await eventually("a retry", lambda: len(logged(caplog, "event not applied, retrying")) >= 2)
        assert harness.log.committed == 0 and harness.applied == []
        harness.create_inbox()  # the database is back
        await eventually("every record committed", lambda: harness.log.committed == 2)
    finally:
        await consumer.stop(timeout=5)

    retries = logged(caplog, "event not applied, retrying")
    assert {extra(record, "error") for record in retries} == {"OperationalError"}
    assert [extra(record, "attempt") for record in retries[:2]] == [1, 2]
    waits = [extra(record, "retry_in_s") for record in retries]
    assert waits[:2] == [0.05, 0.1]  # the backoff doubles
    assert harness.applied == [str(decoded(r).call_id) for r in harness.log.records]
    assert len(harness.inbox_ids()) == 2
    assert counter("dispatch_events_consumed_total", topic=topic, outcome="processed") == 2
    assert counter("dispatch_events_consumed_total", topic=topic, outcome="dead_lettered") == 0
    assert not logged(caplog, "event dead-lettered")


async def test_health_says_stalled_while_records_wait_and_none_finishes(harness: Harness) -> None:
    harness.create_inbox()
    for number in range(4):
        harness.log.append(call(number))
    harness.failing = RuntimeError
    consumer = harness.consumer(stall_seconds=0.3)
    consumer.start()
    try:
        assert consumer.health() == "ok"
        await eventually("stalled", lambda: consumer.health() == "stalled")
        lag = counter("dispatch_consumer_lag", topic=harness.log.topic, partition="0")
        assert lag == 4
        harness.failing = None  # the bug is fixed (say, by a deploy): the records go through
        await eventually("every record committed", lambda: harness.log.committed == 4)
        await eventually("no longer stalled", lambda: consumer.health() == "ok")
    finally:
        await consumer.stop(timeout=5)
    assert len(harness.applied) == 4


async def test_an_idle_consumer_with_nothing_waiting_is_not_stalled(harness: Harness) -> None:
    harness.create_inbox()
    consumer = harness.consumer(stall_seconds=0.1)
    consumer.start()
    try:
        await asyncio.sleep(0.4)  # several lag measurements, all 0, well past stall_seconds
        assert consumer.health() == "ok"
    finally:
        await consumer.stop(timeout=5)
