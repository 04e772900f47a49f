"""The Kafka side of the benchmark: watching routed events, and the raw two-hop relay baseline."""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import time
from dataclasses import dataclass, field
from typing import Any

import uvloop
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from dispatch_shared.events import Topic


@dataclass
class Routed:
    """The first routed event seen for a call: when it arrived (monotonic s), its status and unit."""

    at: float
    status: str
    unit_id: str | None


@dataclass
class RoutedWatcher:
    """Reads ``<namespace>dispatch.calls.routed.v1`` from its end, recording each call's first event.

    ``assignments`` keeps every (call id, unit id) pair of an 'assigned' event, for the check that
    no unit went to two calls (the benchmark never frees a unit, so a unit may be assigned once).
    """

    bootstrap: str
    namespace: str
    first: dict[str, Routed] = field(default_factory=dict)
    assignments: list[tuple[str, str]] = field(default_factory=list)
    _consumer: AIOKafkaConsumer | None = None
    _task: asyncio.Task[None] | None = None

    @property
    def topic(self) -> str:
        return self.namespace + Topic.CALLS_ROUTED.value

    async def start(self) -> None:
        """Connect and position at the end of every partition; events from now on are recorded."""
        consumer = AIOKafkaConsumer(bootstrap_servers=self.bootstrap, group_id=None, enable_auto_commit=False)
        await consumer.start()
        try:
            partitions: set[int] | None = None
            for _ in range(100):
                partitions = consumer.partitions_for_topic(self.topic)
                if partitions:
                    break
                await consumer._client.force_metadata_update()  # noqa: SLF001 - no public refresh
                await asyncio.sleep(0.1)
            if not partitions:
                raise RuntimeError(f"topic {self.topic} does not exist (is the stack up?)")
            assigned = [TopicPartition(self.topic, p) for p in sorted(partitions)]
            consumer.assign(assigned)
            await consumer.seek_to_end(*assigned)
            for tp in assigned:
                await consumer.position(tp)
        except BaseException:
            await consumer.stop()
            raise
        self._consumer = consumer
        self._task = asyncio.create_task(self._run(consumer), name="routed-watcher")

    async def _run(self, consumer: AIOKafkaConsumer) -> None:
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            now = time.monotonic()
            for records in batches.values():
                for record in records:
                    self._record(record.value, now)

    def _record(self, value: bytes | None, now: float) -> None:
        try:
            event: dict[str, Any] = json.loads(value or b"")
        except ValueError:
            return
        call_id = str(event.get("call_id"))
        unit = event.get("unit") or {}
        unit_id = unit.get("unit_id") if isinstance(unit, dict) else None
        status = str(event.get("status"))
        if status == "assigned" and unit_id:
            self.assignments.append((call_id, str(unit_id)))
        if call_id not in self.first:
            self.first[call_id] = Routed(at=now, status=status, unit_id=unit_id)

    async def wait_for(self, call_ids: set[str], deadline: float) -> None:
        """Return once every id in ``call_ids`` has been routed, or at ``deadline`` (monotonic s)."""
        while time.monotonic() < deadline and not call_ids.issubset(self.first.keys()):  # noqa: ASYNC110
            await asyncio.sleep(0.1)  # polling keeps the watcher's hot path free of per-event wake-ups

    def double_assignments(self) -> dict[str, list[str]]:
        """Units assigned to more than one call: unit id -> the call ids."""
        calls: dict[str, set[str]] = {}
        for call_id, unit_id in self.assignments:
            calls.setdefault(unit_id, set()).add(call_id)
        return {unit: sorted(ids) for unit, ids in calls.items() if len(ids) > 1}

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
        if self._consumer is not None:
            await self._consumer.stop()


# --- the two-hop relay baseline -------------------------------------------------------------------

WARM = b"warm"  # the key of the warm-up messages, which are not counted
PARTITIONS = 6  # as the services create their call topics (ServiceSettings.kafka_topic_partitions)


def _producer(bootstrap: str) -> AIOKafkaProducer:
    # The services' producer settings (dispatch_shared.kafka.KafkaLink).
    return AIOKafkaProducer(bootstrap_servers=bootstrap, enable_idempotence=True, acks="all", linger_ms=2)


async def _create_topics(bootstrap: str, names: list[str]) -> None:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(n, PARTITIONS, 1) for n in names])
    finally:
        await admin.close()


async def _relay(bootstrap: str, source: str, sink: str, group: str, stop_at: float) -> None:
    """Consume ``source`` in group ``group`` and produce each record to ``sink``; commit per batch."""
    consumer = AIOKafkaConsumer(
        source,
        bootstrap_servers=bootstrap,
        group_id=group,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
    )
    producer = _producer(bootstrap)
    await consumer.start()
    await producer.start()
    try:
        while time.monotonic() < stop_at:
            batches = await consumer.getmany(timeout_ms=200, max_records=500)
            futures = [
                await producer.send(sink, record.value, key=record.key)
                for records in batches.values()
                for record in records
            ]
            if futures:
                await asyncio.gather(*futures)
                await consumer.commit()
    finally:
        await producer.stop()
        await consumer.stop()


def run_relay(bootstrap: str, source: str, sink: str, group: str, stop_at: float) -> None:
    """The middle hop, in its own process (as a service would be) until ``stop_at`` (monotonic s)."""
    uvloop.run(_relay(bootstrap, source, sink, group, stop_at))


@dataclass
class RelayResult:
    """Messages sent into the first topic and received from the second; rate over the whole trip."""

    sent: int
    received: int
    seconds: float

    @property
    def rate(self) -> float:
        return self.received / self.seconds if self.seconds > 0 else 0.0


async def relay_baseline(bootstrap: str, prefix: str, *, messages: int, timeout: float) -> RelayResult:
    """producer -> topic A -> consumer+producer (another process) -> topic B -> consumer, in msg/s.

    ``messages`` call-sized JSON records keyed like calls are produced as fast as the producer
    takes them; the figure is messages received from B over the time from the first send to the
    last receipt, or to ``timeout`` s if not all arrive.
    """
    source, sink = f"{prefix}relay.a", f"{prefix}relay.b"
    await _create_topics(bootstrap, [source, sink])
    stop_at = time.monotonic() + timeout + 30
    relay = multiprocessing.get_context("spawn").Process(
        target=run_relay, args=(bootstrap, source, sink, f"{prefix}relay", stop_at), daemon=True
    )
    relay.start()
    final = AIOKafkaConsumer(sink, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest")
    producer = _producer(bootstrap)
    await producer.start()
    try:
        # Both topics have leaders before the final consumer looks them up; then one message goes
        # through both hops, so the relay has joined its group before the clock starts.
        await producer.send_and_wait(sink, b"{}", key=WARM)
        await producer.send_and_wait(source, b"{}", key=WARM)
        await final.start()
        async with asyncio.timeout(60):
            warm = 0
            while warm < 2:  # the one sent to B directly and the one relayed
                batches = await final.getmany(timeout_ms=200)
                warm += sum(1 for records in batches.values() for r in records if r.key == WARM)
        body = json.dumps({"call_id": "0" * 36, "cad_incident_id": "x" * 20, "narrative": "n" * 300}).encode()
        received = 0
        started = time.monotonic()
        last = started

        async def produce() -> None:
            for number in range(messages):
                await producer.send(source, body, key=str(number).encode())
            await producer.flush()

        sending = asyncio.create_task(produce())
        deadline = started + timeout
        while received < messages and time.monotonic() < deadline:
            batches = await final.getmany(timeout_ms=200)
            count = sum(1 for records in batches.values() for r in records if r.key != WARM)
            if count:
                received += count
                last = time.monotonic()
        sending.cancel()
        await asyncio.gather(sending, return_exceptions=True)
        seconds = (last if received >= messages else time.monotonic()) - started
        return RelayResult(sent=messages, received=min(received, messages), seconds=seconds)
    finally:
        await producer.stop()
        await final.stop()  # never started is fine
        relay.terminate()
        relay.join(10)
