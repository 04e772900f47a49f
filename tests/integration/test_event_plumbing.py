"""Outbox, consumer and dead letters against the real broker and a real database."""

import asyncio
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator
from uuid import UUID

import pytest
from dispatch_shared.cloudevents import KafkaMessage, decode, encode
from dispatch_shared.consumer import EventConsumer, handles
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallStatus, CallTriaged, Topic
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.outbox import Outbox, OutboxRelay
from intake import ledger
from intake.app import MIGRATIONS
from intake.models import IntakeOutbox, IntakeProcessedEvent
from intake.schemas import CallSubmission
from sqlalchemy.engine import Engine
from sqlmodel import select

from tests.factories import submission, triaged
from tests.stack import collect

pytestmark = pytest.mark.integration


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine, migrations_dir=MIGRATIONS, service="intake")
    yield engine
    engine.dispose()


@pytest.fixture
async def kafka(kafka_bootstrap: str, namespace: str) -> AsyncIterator[KafkaLink]:
    link = KafkaLink(kafka_bootstrap, client_id="test", partitions=3, namespace=namespace)
    link.start()
    assert await link.wait_connected(30)
    yield link
    await link.stop()


def accept(engine: Engine) -> UUID:
    with transaction(engine) as session:
        call = ledger.accept_call(
            session,
            submission=CallSubmission.model_validate(submission()),
            outbox=Outbox(IntakeOutbox, source="/dispatch/intake"),
        )
        return UUID(call.call_id)


async def test_relay_delivers_outbox_rows_as_cloudevents_and_marks_them_sent(
    engine: Engine, kafka: KafkaLink
) -> None:
    ids = [accept(engine) for _ in range(3)]
    relay = OutboxRelay(engine, IntakeOutbox, kafka, poll_seconds=0.1)

    assert await relay.deliver_once() == 3
    assert await relay.deliver_once() == 0  # nothing is sent twice
    assert relay.backlog()[0] == 0

    records = await collect(kafka.topic_name(Topic.CALLS_RECEIVED), count=3)
    envelopes = [decode(r.headers, r.value) for r in records]
    assert {e.event.call_id for e in envelopes} == set(ids)  # type: ignore[attr-defined]
    assert all(r.key == str(e.event.call_id).encode() for r, e in zip(records, envelopes, strict=True))  # type: ignore[attr-defined]
    with transaction(engine) as session:
        outbox_ids = {row.event_id for row in session.exec(select(IntakeOutbox))}
    assert {e.id for e in envelopes} == outbox_ids


async def test_backlog_counts_what_is_not_yet_delivered(engine: Engine, kafka: KafkaLink) -> None:
    accept(engine)
    accept(engine)
    relay = OutboxRelay(engine, IntakeOutbox, kafka, poll_seconds=0.1)
    count, oldest = relay.backlog()
    assert count == 2 and oldest is not None


async def run_consumer(engine: Engine, kafka: KafkaLink, until: Callable[[], bool]) -> None:
    consumer = EventConsumer(
        engine=engine,
        kafka=kafka,
        inbox=IntakeProcessedEvent,
        group_id=kafka.namespace + "intake",
        handlers=[handles(CallTriaged, ledger.record_triaged, rejects=(ledger.UnknownCall,))],
    )
    consumer.start()
    try:
        async with asyncio.timeout(30):
            while not await asyncio.to_thread(until):
                await asyncio.sleep(0.2)
    finally:
        await consumer.stop()


def timeline(engine: Engine, call_id: UUID) -> list[CallStatus | None]:
    """The call's timeline as statuses (None for a change to the call), in the ledger's order."""
    with transaction(engine) as session:
        return [step.status for step in ledger.get_ledger(session, call_id).timeline]


async def test_a_redelivered_event_is_applied_once(engine: Engine, kafka: KafkaLink) -> None:
    call_id = accept(engine)
    message = encode(triaged(call_id), source="/test", event_id="same-id")
    message = KafkaMessage(kafka.topic_name(message.topic), message.key, message.value, message.headers)
    await kafka.send_batch([message, message])  # the broker holds it twice, as after a crash
    other = accept(engine)
    last = encode(triaged(other), source="/test")
    # Same key as the duplicates, so it lands on their partition and is applied after both.
    await kafka.send_batch(
        [KafkaMessage(kafka.topic_name(last.topic), message.key, last.value, last.headers)]
    )

    await run_consumer(engine, kafka, until=lambda: CallStatus.TRIAGED in timeline(engine, other))

    # Once each, whatever the order (the test event's triage time is a fixed past instant).
    assert Counter(timeline(engine, call_id)) == Counter([CallStatus.RECEIVED, CallStatus.TRIAGED])


async def test_poison_goes_to_the_dead_letter_topic_and_the_consumer_carries_on(
    engine: Engine, kafka: KafkaLink
) -> None:
    topic = kafka.topic_name(Topic.CALLS_TRIAGED)
    call_id = accept(engine)
    good = encode(triaged(call_id), source="/test")
    unknown_call = encode(triaged(UUID(int=7)), source="/test")  # decodes, but cannot be applied
    await kafka.send_batch(
        [
            KafkaMessage(topic, good.key, b"\xff not json", good.headers),
            KafkaMessage(topic, good.key, unknown_call.value, unknown_call.headers),  # same partition
            KafkaMessage(topic, good.key, good.value, good.headers),
        ]
    )

    await run_consumer(engine, kafka, until=lambda: CallStatus.TRIAGED in timeline(engine, call_id))

    dead = await collect(topic + ".dlq", count=2)
    errors = sorted(dict(r.headers)["dlq_error"].decode() for r in dead)
    assert errors[0].startswith("UndecodableMessage") and errors[1].startswith("UnknownCall")
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq_original_topic"].decode() == topic
        assert int(headers["dlq_original_offset"]) >= 0
        assert headers["dlq_original_partition"].decode().isdigit()
