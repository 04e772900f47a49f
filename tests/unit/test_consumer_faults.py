"""Telling a record's own faults (dead-letter it) from ours (retry it), without a broker."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from uuid import uuid4

import pytest
from aiokafka.record.default_records import DefaultRecordBatchBuilder
from aiokafka.record.memory_records import MemoryRecords
from dispatch_shared.cloudevents import (
    FaultReason,
    RecordFault,
    UndecodableMessage,
    decode,
    encode,
)
from dispatch_shared.consumer import EventConsumer, EventHandler, dead_letter_message, handles
from dispatch_shared.db import make_engine
from dispatch_shared.events import EVENT_TYPES, CallReceived, CallRouted, CallTriaged, Event, Topic
from dispatch_shared.kafka import KafkaLink
from hypothesis import given
from hypothesis import strategies as st
from intake.models import IntakeProcessedEvent
from sqlmodel import Session

from tests.factories import triaged

SECRET = "caller says he wants to end his life"


def received() -> CallReceived:
    return CallReceived(
        call_id=uuid4(),
        cad_incident_id="CAD-1",
        narrative=SECRET,
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def valid_headers() -> Headers:
    return list(encode(received(), source="/test").headers)


Headers = list[tuple[str, bytes | None]]


def replace(headers: Headers, name: str, raw: bytes | None) -> Headers:
    return [(n, raw if n == name else v) for n, v in headers]


def without(headers: Headers, name: str) -> Headers:
    return [(n, v) for n, v in headers if n != name]


def encoded_body() -> bytes:
    value = encode(received(), source="/test").value
    assert value is not None
    return value


BODY = encoded_body()


@pytest.mark.parametrize(
    "name", ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type"]
)
def test_a_null_attribute_header_is_the_records_fault(name: str) -> None:
    with pytest.raises(UndecodableMessage) as raised:
        decode(replace(valid_headers(), name, None), BODY)
    assert raised.value.reason is FaultReason.NULL_HEADER


@pytest.mark.parametrize("name", ["ce_id", "ce_type", "content-type"])
def test_an_attribute_header_that_is_not_utf8_is_the_records_fault(name: str) -> None:
    with pytest.raises(UndecodableMessage) as raised:
        decode(replace(valid_headers(), name, b"\xff\xfe\x80"), BODY)
    assert raised.value.reason is FaultReason.HEADER_NOT_UTF8


@pytest.mark.parametrize("name", ["ce_specversion", "ce_id", "ce_source", "ce_type"])
def test_a_missing_or_empty_required_attribute_is_the_records_fault(name: str) -> None:
    for headers in (without(valid_headers(), name), replace(valid_headers(), name, b"")):
        with pytest.raises(UndecodableMessage, match=name) as raised:
            decode(headers, BODY)
        assert raised.value.reason is FaultReason.MISSING_ATTRIBUTE


def test_a_repeated_attribute_with_another_value_is_the_records_fault() -> None:
    headers = valid_headers() + [("ce_type", CallTriaged.ce_type.encode())]
    with pytest.raises(UndecodableMessage) as raised:
        decode(headers, BODY)
    assert raised.value.reason is FaultReason.DUPLICATE_ATTRIBUTE


def test_a_structured_mode_event_is_the_records_fault() -> None:
    attrs = {n.removeprefix("ce_"): v.decode() for n, v in valid_headers() if n.startswith("ce_") and v}
    body = json.dumps({**attrs, "data": json.loads(BODY)}).encode()
    with pytest.raises(UndecodableMessage) as raised:
        decode([("content-type", b"application/cloudevents+json; charset=utf-8")], body)
    assert raised.value.reason is FaultReason.STRUCTURED_MODE


def test_another_content_type_is_the_records_fault() -> None:
    with pytest.raises(UndecodableMessage) as raised:
        decode(replace(valid_headers(), "content-type", b"application/avro"), BODY)
    assert raised.value.reason is FaultReason.UNSUPPORTED_CONTENT_TYPE


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        (None, FaultReason.EMPTY_BODY),
        (b"", FaultReason.EMPTY_BODY),
        (bytes(range(256)), FaultReason.INVALID_BODY),
        (b'{"call_id": ', FaultReason.INVALID_BODY),
        (json.dumps({"narrative": SECRET, "call_id": "not-a-uuid"}).encode(), FaultReason.INVALID_BODY),
        (triaged(uuid4()).model_dump_json().encode(), FaultReason.INVALID_BODY),
    ],
)
def test_a_body_that_is_not_the_event_is_the_records_fault(value: bytes | None, reason: FaultReason) -> None:
    with pytest.raises(UndecodableMessage) as raised:
        decode(valid_headers(), value)
    assert raised.value.reason is reason
    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    "edit",
    [
        lambda body: body[:-1] + ', "extra": NaN}',  # not JSON, though Python parses it
        lambda body: body[:-1] + ', "extra": 1e400}',  # overflows to infinity
        lambda body: body[:-1] + ', "narrative": "again"}',  # a repeated key: the last would win
        lambda body: body[:-1] + ', "extra": "\\ud800"}',  # a lone surrogate
    ],
)
def test_a_body_that_is_not_strict_json_is_the_records_fault(edit: Any) -> None:
    # The same strict JSON as an HTTP body: a valid event with one edge value added is refused.
    body = edit(received().model_dump_json())
    with pytest.raises(UndecodableMessage) as raised:
        decode(valid_headers(), body.encode())
    assert raised.value.reason is FaultReason.INVALID_BODY
    assert SECRET not in str(raised.value)


def test_an_unknown_type_or_version_or_time_is_the_records_fault() -> None:
    cases = {
        FaultReason.UNKNOWN_TYPE: replace(valid_headers(), "ce_type", b"org.example.other.v1"),
        FaultReason.UNSUPPORTED_SPECVERSION: replace(valid_headers(), "ce_specversion", b"0.3"),
        FaultReason.INVALID_TIME: replace(valid_headers(), "ce_time", b"yesterday"),
    }
    for reason, headers in cases.items():
        with pytest.raises(UndecodableMessage) as raised:
            decode(headers, BODY)
        assert raised.value.reason is reason


def test_headers_that_are_not_ours_are_ignored_even_null_or_binary() -> None:
    headers = valid_headers() + [("traceparent", None), ("x-binary", b"\xff\x00"), ("b3", b"")]
    assert decode(headers, BODY).event.narrative == SECRET  # type: ignore[attr-defined]


HEADER_NAMES = st.sampled_from(
    ["ce_specversion", "ce_id", "ce_source", "ce_type", "ce_time", "content-type", "x-other"]
)


@given(
    headers=st.lists(st.tuples(HEADER_NAMES, st.none() | st.binary(max_size=40)), max_size=10),
    value=st.none() | st.binary(max_size=200),
)
def test_decode_raises_nothing_but_record_faults(
    headers: list[tuple[str, bytes | None]], value: bytes | None
) -> None:
    """Whatever arrives, decoding either gives an event or says the record is at fault."""
    try:
        decode(headers, value)
    except RecordFault:
        pass


@given(st.sampled_from(valid_headers()), st.none() | st.binary(min_size=1, max_size=8))
def test_damaging_any_attribute_of_a_valid_record_is_a_record_fault_or_harmless(
    header: tuple[str, bytes | None], raw: bytes | None
) -> None:
    name = header[0]
    try:
        envelope = decode(replace(valid_headers(), name, raw), BODY)
    except RecordFault:
        return
    assert envelope.event.narrative == SECRET  # type: ignore[attr-defined]


def test_a_handler_for_another_type_rejects_the_record() -> None:
    handler = handles(CallTriaged, lambda session, event: None)
    envelope = decode(valid_headers(), BODY)
    with pytest.raises(RecordFault) as raised:
        handler(Session(), envelope)
    assert raised.value.reason is FaultReason.UNEXPECTED_TYPE


class UnknownThing(LookupError):
    pass


def test_a_declared_domain_rejection_is_a_record_fault_and_anything_else_is_ours() -> None:
    envelope = decode(valid_headers(), BODY)

    def rejecting(session: Session, event: CallReceived) -> None:
        raise UnknownThing("call 42")

    def buggy(session: Session, event: CallReceived) -> None:
        raise KeyError("route")

    with pytest.raises(RecordFault) as raised:
        handles(CallReceived, rejecting, rejects=(UnknownThing,))(Session(), envelope)
    assert raised.value.reason is FaultReason.REJECTED
    assert isinstance(raised.value.__cause__, UnknownThing)

    for apply in (rejecting, buggy):  # not declared: a bug, retried, never dead-lettered
        with pytest.raises(Exception) as raised_other:
            handles(CallReceived, apply)(Session(), envelope)
        assert not isinstance(raised_other.value, RecordFault)


def test_the_dead_letter_keeps_the_record_and_says_why() -> None:
    headers = replace(valid_headers(), "ce_source", None) + [("x-binary", b"\xff")]
    with pytest.raises(RecordFault) as raised:
        decode(headers, BODY)
    message = dead_letter_message(
        topic="t.dispatch.calls.received.v1",
        partition=4,
        offset=17,
        key=b"call-1",
        value=BODY,
        headers=headers,
        fault=raised.value,
        group_id="t.dispatch-triage",
    )
    assert message.topic == "t.dispatch.calls.received.v1.dlq"
    assert (message.key, message.value) == (b"call-1", BODY)
    assert list(message.headers[: len(headers)]) == headers  # null value and binary header kept
    added = dict(message.headers[len(headers) :])
    assert added["dlq_original_offset"] == b"17" and added["dlq_original_partition"] == b"4"
    assert added["dlq_reason"] == b"null_header"
    assert added["dlq_error"] == b"UndecodableMessage: header 'ce_source' has no value"

    # The real record builder the producer uses takes the null header value as it is.
    builder = DefaultRecordBatchBuilder(2, 0, 0, -1, -1, -1, 1_000_000)
    builder.append(0, timestamp=None, key=message.key, value=message.value, headers=list(message.headers))
    (record,) = list(MemoryRecords(bytes(builder.build())).next_batch())
    assert record.headers == list(message.headers)


def test_a_dead_letter_of_a_rejection_names_the_handlers_exception_not_the_body() -> None:
    try:
        try:
            raise UnknownThing("3f0c")
        except UnknownThing as exc:
            raise RecordFault(FaultReason.REJECTED, "x") from exc
    except RecordFault as fault:
        message = dead_letter_message(
            topic="t", partition=0, offset=0, key=None, value=None, headers=[], fault=fault, group_id="g"
        )
    assert dict(message.headers)["dlq_error"] == b"UnknownThing: 3f0c"
    assert message.key == b""  # the producer needs a key or a value


def ignore(session: Session, event: Any) -> None:
    pass


def consumer(handlers: Sequence[EventHandler]) -> EventConsumer:
    """A consumer that is built but never started (nothing connects)."""
    return EventConsumer(
        engine=make_engine("sqlite://"),
        kafka=KafkaLink("127.0.0.1:1", client_id="test", partitions=1),
        inbox=IntakeProcessedEvent,
        group_id="test",
        handlers=handlers,
    )


MODELS_BY_TOPIC = sorted(EVENT_TYPES.values(), key=lambda model: model.topic.value)


@pytest.mark.parametrize("model", MODELS_BY_TOPIC)
def test_a_handler_consumes_the_topic_its_model_travels_on(model: type[Event]) -> None:
    handler = handles(model, ignore)
    assert handler.topic is model.topic
    assert consumer([handler]).handlers == {model.topic: handler}


def test_a_consumer_subscribes_to_its_handlers_models_topics() -> None:
    triaged_handler, routed_handler = handles(CallTriaged, ignore), handles(CallRouted, ignore)
    subscribed = consumer([triaged_handler, routed_handler]).handlers
    assert subscribed == {Topic.CALLS_TRIAGED: triaged_handler, Topic.CALLS_ROUTED: routed_handler}


def test_two_handlers_of_one_topic_are_refused_at_construction() -> None:
    with pytest.raises(ValueError, match="two handlers consume dispatch.calls.triaged.v1"):
        consumer([handles(CallTriaged, ignore), handles(CallTriaged, ignore)])
