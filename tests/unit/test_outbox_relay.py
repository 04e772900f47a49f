"""The outbox relay's own logic on a real SQLite outbox, with a scripted stand-in for the Kafka link.

What is checked: exactly the rows the broker acknowledged are marked sent (never the others, and
an acknowledged row is never sent again); the backlog gauges follow the table on every pass,
whether Kafka is connected or deliveries fail; a stop ends within its timeout while deliveries
hang. The real producer is covered by tests/fault/test_broker_outage.py.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from uuid import UUID

import pytest
from aiokafka.errors import KafkaError, KafkaTimeoutError
from dispatch_shared.cloudevents import KafkaMessage, decode, encode
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallReceived, CallStatus, Location, utcnow
from dispatch_shared.kafka import Delivery
from dispatch_shared.outbox import Outbox, OutboxRelay
from intake.app import MIGRATIONS
from intake.models import IntakeOutbox
from prometheus_client import REGISTRY
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from tests.factories import T0, later, new_call_id, status_changed


class ScriptedLink:
    """Stands in for ``KafkaLink``: acknowledges every message except those whose CloudEvents id
    is in ``refused``; ``hang`` makes a delivery wait out its whole timeout; records what it got."""

    def __init__(self, *, connected: bool = True) -> None:
        self.is_connected = connected
        self.refused: set[str] = set()
        self.hang = False
        self.acknowledged: list[str] = []  # CloudEvents ids, in the order the broker took them
        self.messages: list[KafkaMessage] = []  # every message offered, as it would go on the wire

    @property
    def connected(self) -> bool:
        return self.is_connected

    def topic_name(self, topic: str) -> str:
        return "test." + topic

    async def deliver(self, messages: Sequence[KafkaMessage], *, timeout: float | None = None) -> Delivery:
        self.messages += messages
        if self.hang:
            await asyncio.sleep(3600 if timeout is None else timeout)
            return Delivery((False,) * len(messages), KafkaTimeoutError("no answer"))
        acknowledged = tuple(ce_id(m) not in self.refused for m in messages)
        self.acknowledged += [ce_id(m) for m, ok in zip(messages, acknowledged, strict=True) if ok]
        return Delivery(acknowledged, None if all(acknowledged) else KafkaError("batch rejected"))

    async def send_batch(self, messages: Sequence[KafkaMessage]) -> None:
        delivery = await self.deliver(messages)
        if delivery.error is not None:
            raise delivery.error

    async def wait_connected(self, timeout: float | None = None) -> bool:
        while not self.is_connected:
            await asyncio.sleep(0.01)
        return True


def ce_id(message: KafkaMessage) -> str:
    value = dict(message.headers)["ce_id"]
    assert value is not None
    return value.decode()


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine, migrations_dir=MIGRATIONS, service="intake")
    yield engine
    engine.dispose()


def add_events(engine: Engine, count: int, *, age_seconds: float = 0) -> list[str]:
    """``count`` outbox rows (one call's status steps), written ``age_seconds`` ago; their event ids."""
    outbox = Outbox(IntakeOutbox, source="/test")
    call_id = new_call_id()
    with transaction(engine) as session:
        ids = [
            outbox.add(session, status_changed(call_id, CallStatus.EN_ROUTE, later(i))) for i in range(count)
        ]
    if age_seconds:
        with transaction(engine) as session:
            for row in session.exec(select(IntakeOutbox).where(col(IntakeOutbox.event_id).in_(ids))):
                row.created_at = utcnow() - timedelta(seconds=age_seconds)
    return ids


def unsent(engine: Engine) -> list[str]:
    with transaction(engine) as session:
        rows = session.exec(
            select(IntakeOutbox).where(col(IntakeOutbox.sent_at).is_(None)).order_by(col(IntakeOutbox.id))
        )
        return [row.event_id for row in rows]


def gauge(name: str) -> float:
    value = REGISTRY.get_sample_value(name)
    assert value is not None, name
    return value


@pytest.fixture
async def running() -> AsyncIterator[list[asyncio.Task[None]]]:
    """Relay tasks started by a test, cancelled after it whatever happens."""
    tasks: list[asyncio.Task[None]] = []
    yield tasks
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)


async def eventually(check: object, timeout: float = 5) -> None:
    assert callable(check)
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "condition not met in time"
        await asyncio.sleep(0.02)


WIRE_CALL_ID = UUID("6f1c2b9e-3d4a-4c1b-9a7e-2f0d5b8c1a23")
WIRE_VALUE = (
    b'{"call_id":"6f1c2b9e-3d4a-4c1b-9a7e-2f0d5b8c1a23","cad_incident_id":"CAD-77",'
    b'"narrative":"Vecino oye voces \xe2\x80\x94 caf\xc3\xa9","call_type":"WELFARE CHECK",'
    b'"location":{"address":"1 Main St","lat":47.6062,"lon":-122.3321},'
    b'"received_at":"2026-11-01T12:00:00Z"}'
)


async def test_a_relayed_event_has_the_pinned_wire_format(engine: Engine) -> None:
    """What consumers (and anyone reading the topics) rely on, byte for byte: the key is the call
    id, the value the event's compact JSON in UTF-8, and the headers are binary-mode CloudEvents in
    this order, with the row's id and write time; the relay sends what ``encode`` makes."""
    event = CallReceived(
        call_id=WIRE_CALL_ID,
        cad_incident_id="CAD-77",
        narrative="Vecino oye voces \u2014 caf\u00e9",
        call_type="WELFARE CHECK",
        location=Location(address="1 Main St", lat=47.6062, lon=-122.3321),
        received_at=T0,
    )
    with transaction(engine) as session:
        event_id = Outbox(IntakeOutbox, source="/dispatch/intake").add(session, event)
    with transaction(engine) as session:
        written = session.exec(select(IntakeOutbox.created_at)).one()
    link = ScriptedLink()

    assert await OutboxRelay(engine, IntakeOutbox, link, poll_seconds=0.05).deliver_once() == 1

    [message] = link.messages
    assert message.topic == "test.dispatch.calls.received.v1"
    assert message.key == b"6f1c2b9e-3d4a-4c1b-9a7e-2f0d5b8c1a23"
    assert message.value == WIRE_VALUE
    assert list(message.headers) == [
        ("ce_specversion", b"1.0"),
        ("ce_id", event_id.encode()),
        ("ce_source", b"/dispatch/intake"),
        ("ce_type", b"org.dispatch.call.received.v1"),
        ("ce_time", written.isoformat().encode()),
        ("content-type", b"application/json"),
    ]
    assert re.fullmatch(
        rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{6})?\+00:00", dict(message.headers)["ce_time"] or b""
    )
    assert UUID(event_id).version == 4
    encoded = encode(event, source="/dispatch/intake", event_id=event_id, time=written)
    assert (message.key, message.value, list(message.headers)) == (
        encoded.key,
        encoded.value,
        list(encoded.headers),
    )
    assert decode(message.headers, message.value).event == event


async def test_only_the_acknowledged_rows_are_marked_sent(engine: Engine) -> None:
    ids = add_events(engine, 6)
    link = ScriptedLink()
    link.refused = {ids[2], ids[4]}
    relay = OutboxRelay(engine, IntakeOutbox, link, poll_seconds=0.05)

    with pytest.raises(KafkaError):
        await relay.deliver_once()

    assert unsent(engine) == [ids[2], ids[4]]
    link.refused = set()
    assert await relay.deliver_once() == 2
    assert unsent(engine) == []
    # Each event reached the broker once: the acknowledged rows were not sent again.
    assert sorted(link.acknowledged) == sorted(ids)
    assert len(link.acknowledged) == len(set(link.acknowledged))


async def test_a_failed_pass_leaves_every_row_for_the_next_one(engine: Engine) -> None:
    ids = add_events(engine, 3)
    link = ScriptedLink()
    link.refused = set(ids)
    relay = OutboxRelay(engine, IntakeOutbox, link, poll_seconds=0.05)

    with pytest.raises(KafkaError):
        await relay.deliver_once()

    assert unsent(engine) == ids
    assert link.acknowledged == []


async def test_backlog_gauges_follow_the_table_while_kafka_is_disconnected(
    engine: Engine, running: list[asyncio.Task[None]]
) -> None:
    link = ScriptedLink(connected=False)
    relay = OutboxRelay(engine, IntakeOutbox, link, poll_seconds=0.05)
    running.append(asyncio.create_task(relay.run()))
    add_events(engine, 4, age_seconds=90)

    await eventually(lambda: gauge("dispatch_outbox_backlog") == 4)
    assert gauge("dispatch_outbox_oldest_seconds") >= 90

    add_events(engine, 3)
    await eventually(lambda: gauge("dispatch_outbox_backlog") == 7)

    link.is_connected = True
    await eventually(lambda: gauge("dispatch_outbox_backlog") == 0)
    assert gauge("dispatch_outbox_oldest_seconds") == 0
    assert unsent(engine) == []


async def test_backlog_gauges_follow_the_table_while_every_delivery_fails(
    engine: Engine, running: list[asyncio.Task[None]]
) -> None:
    ids = add_events(engine, 5, age_seconds=30)
    link = ScriptedLink()
    link.refused = set(ids[1:])
    relay = OutboxRelay(engine, IntakeOutbox, link, poll_seconds=0.05)
    running.append(asyncio.create_task(relay.run()))

    # The first row goes through; the other four keep failing and the gauges say so.
    await eventually(lambda: unsent(engine) == ids[1:])
    await eventually(lambda: gauge("dispatch_outbox_backlog") == 4)
    assert gauge("dispatch_outbox_oldest_seconds") >= 30


async def test_stop_ends_within_its_timeout_while_deliveries_hang(engine: Engine) -> None:
    ids = add_events(engine, 3)
    link = ScriptedLink()
    link.hang = True
    relay = OutboxRelay(engine, IntakeOutbox, link, poll_seconds=0.05)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.2)  # a delivery is under way and will not be answered

    started = time.monotonic()
    relay.stop_soon(1.0)
    done, _ = await asyncio.wait({task}, timeout=5)
    if not done:
        task.cancel()
    elapsed = time.monotonic() - started

    assert done, "the relay did not stop"
    assert elapsed < 1.5, f"stop took {elapsed:.2f}s for a 1s timeout"
    assert unsent(engine) == ids  # nothing was acknowledged, so everything waits for the next start


async def test_stop_delivers_what_is_pending_while_kafka_is_up(engine: Engine) -> None:
    link = ScriptedLink(connected=False)
    relay = OutboxRelay(engine, IntakeOutbox, link, poll_seconds=10)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.1)  # the relay sleeps for its whole poll interval now
    ids = add_events(engine, 3)
    link.is_connected = True

    relay.stop_soon(2.0)
    await asyncio.wait_for(task, 3)

    assert unsent(engine) == []
    assert link.acknowledged == ids


async def test_stop_gives_up_at_once_a_delivery_kafka_will_not_answer(engine: Engine) -> None:
    add_events(engine, 2)
    link = ScriptedLink()
    link.hang = True
    relay = OutboxRelay(engine, IntakeOutbox, link, poll_seconds=0.05)
    task = asyncio.create_task(relay.run())
    await asyncio.sleep(0.2)  # a delivery is under way
    link.is_connected = False  # and the link has since seen Kafka go away

    started = time.monotonic()
    relay.stop_soon(5.0)
    await asyncio.wait_for(task, 6)

    assert time.monotonic() - started < 0.5
    assert len(unsent(engine)) == 2
