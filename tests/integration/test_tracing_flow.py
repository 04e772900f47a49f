"""One trace through the outbox, the real broker and a consumer that writes the next event.

A call accepted inside a traced request is relayed with ``ce_traceparent``; a real consumer handles
it in a span of the same trace and writes a follow-up event to its outbox, which the relay sends
with that handling span as its parent: same trace id, new span id. A poison record is
dead-lettered with its trace header as it came.
"""

import asyncio
from typing import Any
from uuid import UUID, uuid4

import pytest
from dispatch_shared import tracing
from dispatch_shared.cloudevents import KafkaMessage, decode, encode
from dispatch_shared.consumer import EventConsumer, handles
from dispatch_shared.db import transaction
from dispatch_shared.events import CallReceived, Location, Topic
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.outbox import Outbox, OutboxRelay
from dispatch_shared.tracing import TraceContext, parse_traceparent
from intake import ledger
from intake.models import IntakeOutbox, IntakeProcessedEvent
from intake.schemas import CallSubmission
from sqlalchemy.engine import Engine
from sqlmodel import Session

from tests.factories import T0, submission, triaged
from tests.stack import collect

pytestmark = pytest.mark.integration

CAD_TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
CAD_SPAN_ID = "b7ad6b7169203331"
CAD_TRACEPARENT = f"00-{CAD_TRACE_ID}-{CAD_SPAN_ID}-01"


def trace_header(record: Any) -> TraceContext:
    """The ``ce_traceparent`` of a consumed record, parsed; fails when it has none."""
    headers = dict(record.headers)
    context = parse_traceparent(headers.get("ce_traceparent"))
    assert context is not None, headers
    return context


async def test_a_trace_goes_from_the_request_through_kafka_into_the_next_event(
    intake_engine: Engine, kafka_link: KafkaLink
) -> None:
    outbox = Outbox(IntakeOutbox, source="/dispatch/intake")
    with tracing.span("POST /v1/calls", parent=parse_traceparent(CAD_TRACEPARENT), kind="server") as request:
        with transaction(intake_engine) as session:
            call = ledger.accept_call(
                session, submission=CallSubmission.model_validate(submission()), outbox=outbox
            )
    call_id = UUID(call.call_id)
    relay = OutboxRelay(intake_engine, IntakeOutbox, kafka_link, poll_seconds=0.1)
    assert await relay.deliver_once() == 1
    [received] = await collect(kafka_link.topic_name(Topic.CALLS_RECEIVED), count=1)
    assert trace_header(received) == request.context  # the writer's span, as the row kept it

    handled: list[TraceContext | None] = []

    def triage_it(session: Session, event: CallReceived) -> None:
        # What a service's handler does: its state change and its next event, in one transaction.
        handled.append(tracing.current_trace.get())
        outbox.add(session, triaged(event.call_id))

    consumer = EventConsumer(
        engine=intake_engine,
        kafka=kafka_link,
        inbox=IntakeProcessedEvent,
        group_id=kafka_link.namespace + "tracing",
        handlers=[handles(CallReceived, triage_it)],
    )
    consumer.start()
    try:
        async with asyncio.timeout(30):  # until the handler's own event has gone out
            while not (handled and await relay.deliver_once()):
                await asyncio.sleep(0.1)
    finally:
        await consumer.stop()

    [handling] = handled
    assert handling is not None
    assert handling.trace_id == CAD_TRACE_ID
    assert handling.span_id not in (CAD_SPAN_ID, request.context.span_id)
    [triaged_record] = await collect(kafka_link.topic_name(Topic.CALLS_TRIAGED), count=1)
    assert decode(triaged_record.headers, triaged_record.value).event.call_id == call_id  # type: ignore[attr-defined]
    assert trace_header(triaged_record) == handling  # same trace, the handler's new span


def received_event(call_id: UUID) -> CallReceived:
    return CallReceived(
        call_id=call_id,
        cad_incident_id=f"CAD-{call_id.hex[:8]}",
        narrative="test narrative",
        call_type="WELFARE CHECK",
        location=Location(address="1 Main St", lat=47.6, lon=-122.3),
        received_at=T0,
    )


async def test_records_fetched_together_are_each_handled_in_their_own_writers_trace(
    intake_engine: Engine, kafka_link: KafkaLink
) -> None:
    """Three events from three traces on one partition (one key), consumed in one fetch: each
    handler call runs in its own record's trace, whether the consumer applies them together or
    one by one."""
    topic = kafka_link.topic_name(Topic.CALLS_RECEIVED)
    writers: list[TraceContext] = []
    messages: list[KafkaMessage] = []
    for _ in range(3):
        with tracing.span("writer", parent=None) as writer:
            encoded = encode(received_event(uuid4()), source="/test")
        writers.append(writer.context)
        messages.append(KafkaMessage(topic, b"one-key", encoded.value, encoded.headers))
    await kafka_link.send_batch(messages)

    handled: list[TraceContext | None] = []
    consumer = EventConsumer(
        engine=intake_engine,
        kafka=kafka_link,
        inbox=IntakeProcessedEvent,
        group_id=kafka_link.namespace + "tracing",
        handlers=[
            handles(CallReceived, lambda _session, _event: handled.append(tracing.current_trace.get()))
        ],
    )
    consumer.start()
    try:
        async with asyncio.timeout(30):
            while len(handled) < 3:
                await asyncio.sleep(0.1)
    finally:
        await consumer.stop()
    assert [context.trace_id if context else None for context in handled] == [w.trace_id for w in writers]
    assert not {context.span_id for context in handled if context} & {w.span_id for w in writers}


async def test_a_dead_lettered_record_keeps_its_trace_header(
    intake_engine: Engine, kafka_link: KafkaLink
) -> None:
    topic = kafka_link.topic_name(Topic.CALLS_RECEIVED)
    with tracing.span("writer", parent=None) as writer:
        good = encode(triaged(UUID(int=1)), source="/test")  # a triaged event on the received topic
    await kafka_link.send_batch([KafkaMessage(topic, good.key, good.value, good.headers)])

    consumer = EventConsumer(
        engine=intake_engine,
        kafka=kafka_link,
        inbox=IntakeProcessedEvent,
        group_id=kafka_link.namespace + "tracing",
        handlers=[handles(CallReceived, lambda session, event: None)],
    )
    consumer.start()
    try:
        [dead] = await collect(topic + ".dlq", count=1)
    finally:
        await consumer.stop()
    assert dict(dead.headers)["dlq_reason"] == b"unexpected_type"
    assert trace_header(dead) == writer.context
