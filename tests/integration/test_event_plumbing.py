"""Outbox, consumer and dead letters against the real broker and a real database."""

import asyncio
from collections import Counter
from collections.abc import Callable
from uuid import UUID

import pytest
from dispatch_shared.cloudevents import KafkaMessage, decode, encode
from dispatch_shared.consumer import EventConsumer, handles
from dispatch_shared.db import transaction
from dispatch_shared.events import CallStatus, CallTriaged, Topic
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.outbox import Outbox, OutboxRelay
from intake import ledger
from intake.models import IntakeOutbox, IntakeProcessedEvent
from intake.schemas import CallSubmission
from sqlalchemy.engine import Engine
from sqlmodel import select

from tests.factories import submission, triaged
from tests.stack import collect

pytestmark = pytest.mark.integration


def accept(intake_engine: Engine) -> UUID:
    with transaction(intake_engine) as session:
        call = ledger.accept_call(
            session,
            submission=CallSubmission.model_validate(submission()),
            outbox=Outbox(IntakeOutbox, source="/dispatch/intake"),
        )
        return UUID(call.call_id)


async def test_relay_delivers_outbox_rows_as_cloudevents_and_marks_them_sent(
    intake_engine: Engine, kafka_link: KafkaLink
) -> None:
    ids = [accept(intake_engine) for _ in range(3)]
    relay = OutboxRelay(intake_engine, IntakeOutbox, kafka_link, poll_seconds=0.1)

    assert await relay.deliver_once() == 3
    assert await relay.deliver_once() == 0  # nothing is sent twice
    assert relay.backlog()[0] == 0

    records = await collect(kafka_link.topic_name(Topic.CALLS_RECEIVED), count=3)
    envelopes = [decode(r.headers, r.value) for r in records]
    assert {e.event.call_id for e in envelopes} == set(ids)  # type: ignore[attr-defined]
    assert all(r.key == str(e.event.call_id).encode() for r, e in zip(records, envelopes, strict=True))  # type: ignore[attr-defined]
    with transaction(intake_engine) as session:
        outbox_ids = {row.event_id for row in session.exec(select(IntakeOutbox))}
    assert {e.id for e in envelopes} == outbox_ids


async def test_backlog_counts_what_is_not_yet_delivered(intake_engine: Engine, kafka_link: KafkaLink) -> None:
    accept(intake_engine)
    accept(intake_engine)
    relay = OutboxRelay(intake_engine, IntakeOutbox, kafka_link, poll_seconds=0.1)
    count, oldest = relay.backlog()
    assert count == 2 and oldest is not None


async def run_consumer(intake_engine: Engine, kafka_link: KafkaLink, until: Callable[[], bool]) -> None:
    consumer = EventConsumer(
        engine=intake_engine,
        kafka=kafka_link,
        inbox=IntakeProcessedEvent,
        group_id=kafka_link.namespace + "intake",
        handlers=[handles(CallTriaged, ledger.record_triaged, rejects=(ledger.UnknownCall,))],
    )
    consumer.start()
    try:
        async with asyncio.timeout(30):
            while not await asyncio.to_thread(until):
                await asyncio.sleep(0.2)
    finally:
        await consumer.stop()


def timeline(intake_engine: Engine, call_id: UUID) -> list[CallStatus | None]:
    """The call's timeline as statuses (None for a change to the call), in the ledger's order."""
    with transaction(intake_engine) as session:
        return [step.status for step in ledger.get_ledger(session, call_id).timeline]


async def test_a_redelivered_event_is_applied_once(intake_engine: Engine, kafka_link: KafkaLink) -> None:
    call_id = accept(intake_engine)
    message = encode(triaged(call_id), source="/test", event_id="same-id")
    message = KafkaMessage(kafka_link.topic_name(message.topic), message.key, message.value, message.headers)
    await kafka_link.send_batch([message, message])  # the broker holds it twice, as after a crash
    other = accept(intake_engine)
    last = encode(triaged(other), source="/test")
    # Same key as the duplicates, so it lands on their partition and is applied after both.
    await kafka_link.send_batch(
        [KafkaMessage(kafka_link.topic_name(last.topic), message.key, last.value, last.headers)]
    )

    await run_consumer(
        intake_engine, kafka_link, until=lambda: CallStatus.TRIAGED in timeline(intake_engine, other)
    )

    # Once each, whatever the order (the test event's triage time is a fixed past instant).
    assert Counter(timeline(intake_engine, call_id)) == Counter([CallStatus.RECEIVED, CallStatus.TRIAGED])


async def test_poison_goes_to_the_dead_letter_topic_and_the_consumer_carries_on(
    intake_engine: Engine, kafka_link: KafkaLink
) -> None:
    topic = kafka_link.topic_name(Topic.CALLS_TRIAGED)
    call_id = accept(intake_engine)
    good = encode(triaged(call_id), source="/test")
    unknown_call = encode(triaged(UUID(int=7)), source="/test")  # decodes, but cannot be applied
    await kafka_link.send_batch(
        [
            KafkaMessage(topic, good.key, b"\xff not json", good.headers),
            KafkaMessage(topic, good.key, unknown_call.value, unknown_call.headers),  # same partition
            KafkaMessage(topic, good.key, good.value, good.headers),
        ]
    )

    await run_consumer(
        intake_engine, kafka_link, until=lambda: CallStatus.TRIAGED in timeline(intake_engine, call_id)
    )

    dead = await collect(topic + ".dlq", count=2)
    errors = sorted(dict(r.headers)["dlq_error"].decode() for r in dead)
    assert errors[0].startswith("UndecodableMessage") and errors[1].startswith("UnknownCall")
    for record in dead:
        headers = dict(record.headers)
        assert headers["dlq_original_topic"].decode() == topic
        assert int(headers["dlq_original_offset"]) >= 0
        assert headers["dlq_original_partition"].decode().isdigit()
