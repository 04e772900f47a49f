"""CloudEvents 1.0 in Kafka binary mode: attributes travel as ``ce_*`` headers, the event as JSON.

Besides the required attributes (``ce_specversion``, ``ce_id``, ``ce_source``, ``ce_type``) and
``ce_time``, an event written inside a traced span carries the Distributed Tracing extension's
``traceparent`` attribute as the ``ce_traceparent`` header: the W3C context of the span that wrote
it (see ``dispatch_shared.tracing``). It is optional; a value that is not a valid traceparent only
starts a new trace, while a null or non-UTF-8 one is refused like any ``ce_*`` header.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from uuid import uuid4

from pydantic import ValidationError

from dispatch_shared.events import EVENT_TYPES, Event, utcnow
from dispatch_shared.jsonsafe import json_edge_errors
from dispatch_shared.tracing import KAFKA_HEADER, current_traceparent

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"
STRUCTURED_CONTENT_TYPE = "application/cloudevents"

Headers = list[tuple[str, bytes]]
RecordHeaders = Sequence[tuple[str, bytes | None]]
"""Headers as Kafka delivers them: a value may be null, names may repeat."""


class FaultReason(StrEnum):
    """Why a record can never be applied: a short fixed class (metric label, ``dlq_reason`` header)."""

    NULL_HEADER = "null_header"
    HEADER_NOT_UTF8 = "header_not_utf8"
    DUPLICATE_ATTRIBUTE = "duplicate_attribute"
    MISSING_ATTRIBUTE = "missing_attribute"
    UNSUPPORTED_SPECVERSION = "unsupported_specversion"
    STRUCTURED_MODE = "structured_mode"
    UNSUPPORTED_CONTENT_TYPE = "unsupported_content_type"
    UNKNOWN_TYPE = "unknown_type"
    EMPTY_BODY = "empty_body"
    INVALID_BODY = "invalid_body"
    INVALID_TIME = "invalid_time"
    UNEXPECTED_TYPE = "unexpected_type"
    REJECTED = "rejected"
    DATA_REJECTED = "data_rejected"
    UNREADABLE = "unreadable"


class RecordFault(ValueError):
    """A record that can never be applied because of what it holds; retrying cannot help.

    Raised by decoding and validation (and by handlers for events they reject); the consumer
    parks the record on ``<topic>.dlq`` and goes on. Any other exception is not the record's
    fault and is retried. ``reason`` is the fault's class; the message adds detail and never
    quotes the body (it may hold a narrative).
    """

    def __init__(self, reason: FaultReason, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


class UndecodableMessage(RecordFault):
    """A message that is not a binary-mode CloudEvent of our contract."""


@dataclass(frozen=True)
class Envelope:
    """An event with its CloudEvents attributes."""

    id: str
    source: str
    type: str
    time: datetime
    event: Event


@dataclass(frozen=True)
class KafkaMessage:
    """What goes on the wire: topic, key, value and headers."""

    topic: str
    key: bytes | None
    value: bytes | None
    headers: RecordHeaders


def new_event_id() -> str:
    """A fresh CloudEvents id; consumers deduplicate on it."""
    return str(uuid4())


def ce_headers(
    *, event_id: str, source: str, ce_type: str, time: datetime, traceparent: str | None = None
) -> Headers:
    """The binary-mode CloudEvents headers of one message; ``ce_traceparent`` only when traced."""
    headers = [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", ce_type.encode()),
        ("ce_time", time.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]
    if traceparent is not None:
        headers.append((KAFKA_HEADER, traceparent.encode()))
    return headers


@dataclass(frozen=True)
class EncodedEvent:
    """An event as it goes on the wire, before a Kafka message is made of it.

    ``id``, ``source``, ``type`` and ``time`` are its CloudEvents attributes; ``topic`` is the
    contract topic (without a namespace), ``key`` the call (or unit) id and ``data`` the event's
    compact JSON. ``traceparent`` (W3C, version 00) names the span that wrote the event, or None
    outside any span. The outbox stores exactly these fields, so a message rebuilt from a row, however
    often it is redelivered, is the one ``encode`` makes.
    """

    id: str
    source: str
    type: str
    time: datetime
    topic: str
    key: str
    data: str
    traceparent: str | None = None

    def message(self, topic: str | None = None) -> KafkaMessage:
        """The binary-mode Kafka message: key and value UTF-8, attributes as ``ce_*`` headers.

        ``topic`` is the physical topic name when it differs from the contract topic (a namespace).
        """
        return KafkaMessage(
            topic=self.topic if topic is None else topic,
            key=self.key.encode(),
            value=self.data.encode(),
            headers=ce_headers(
                event_id=self.id,
                source=self.source,
                ce_type=self.type,
                time=self.time,
                traceparent=self.traceparent,
            ),
        )


def encode_event(
    event: Event, *, source: str, event_id: str | None = None, time: datetime | None = None
) -> EncodedEvent:
    """The wire fields of ``event``: a fresh id and the current time unless given (time tz-aware).

    Its ``traceparent`` is the current span's (``tracing.current_traceparent``), None outside one.
    """
    return EncodedEvent(
        id=event_id or new_event_id(),
        source=source,
        type=event.ce_type,
        time=time or utcnow(),
        topic=event.topic.value,
        key=event.key(),
        data=event.model_dump_json(),
        traceparent=current_traceparent(),
    )


def encode(
    event: Event, *, source: str, event_id: str | None = None, time: datetime | None = None
) -> KafkaMessage:
    """Encode an event as a binary-mode CloudEvents Kafka message keyed by its call (or unit) id."""
    return encode_event(event, source=source, event_id=event_id, time=time).message()


def _attributes(headers: RecordHeaders) -> dict[str, str]:
    """The ``ce_*`` and ``content-type`` headers as text; other headers are not ours and are ignored."""
    attrs: dict[str, str] = {}
    for name, raw in headers:
        if not (name.startswith("ce_") or name == "content-type"):
            continue
        if raw is None:
            raise UndecodableMessage(FaultReason.NULL_HEADER, f"header {name[:100]!r} has no value")
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise UndecodableMessage(
                FaultReason.HEADER_NOT_UTF8, f"header {name[:100]!r} is not UTF-8"
            ) from None
        if attrs.setdefault(name, text) != text:
            raise UndecodableMessage(
                FaultReason.DUPLICATE_ATTRIBUTE, f"header {name[:100]!r} appears twice with different values"
            )
    return attrs


def decode(headers: RecordHeaders, value: bytes | None) -> Envelope:
    """Decode a binary-mode CloudEvents Kafka message into our event model.

    ``headers`` and ``value`` are as Kafka delivers them. Raises ``UndecodableMessage`` (a
    ``RecordFault``) when a ``ce_*`` or ``content-type`` header is null, not UTF-8 or repeated
    with another value; a required attribute (specversion, id, source, type) is missing; the
    event is in structured mode or another content type; the type is not one of ours; or the
    body is empty, not JSON, or fails the event's model. Nothing else is raised for bad input.
    """
    attrs = _attributes(headers)
    content_type = attrs.get("content-type", CONTENT_TYPE).split(";")[0].strip().lower()
    if content_type.startswith(STRUCTURED_CONTENT_TYPE):
        raise UndecodableMessage(FaultReason.STRUCTURED_MODE, "structured-mode CloudEvent; only binary mode")
    if content_type != CONTENT_TYPE:
        raise UndecodableMessage(
            FaultReason.UNSUPPORTED_CONTENT_TYPE, f"unsupported content-type {content_type[:100]!r}"
        )
    for required in ("ce_specversion", "ce_id", "ce_source", "ce_type"):
        if not attrs.get(required):
            raise UndecodableMessage(FaultReason.MISSING_ATTRIBUTE, f"missing header {required}")
    if attrs["ce_specversion"] != SPEC_VERSION:
        raise UndecodableMessage(
            FaultReason.UNSUPPORTED_SPECVERSION,
            f"unsupported ce_specversion {attrs['ce_specversion'][:20]!r}",
        )
    ce_type = attrs["ce_type"]
    model = EVENT_TYPES.get(ce_type)
    if model is None:
        raise UndecodableMessage(FaultReason.UNKNOWN_TYPE, f"unknown ce_type {ce_type[:100]!r}")
    if not value:
        raise UndecodableMessage(FaultReason.EMPTY_BODY, "empty message body")
    # The same strict JSON as HTTP bodies: no NaN, repeated keys, lone surrogates or deep nesting.
    edges = json_edge_errors(value)
    if edges:
        where = ".".join(str(part) for part in edges[0]["loc"][1:])[:100]
        raise UndecodableMessage(
            FaultReason.INVALID_BODY, f"{ce_type} body is not strict JSON: {edges[0]['type']} at {where!r}"
        )
    try:
        event = model.model_validate_json(value)
    except ValidationError as exc:
        raise UndecodableMessage(
            FaultReason.INVALID_BODY, f"invalid {ce_type} body: {exc.__class__.__name__}"
        ) from exc
    try:
        time = datetime.fromisoformat(attrs["ce_time"]) if attrs.get("ce_time") else utcnow()
    except ValueError:
        raise UndecodableMessage(FaultReason.INVALID_TIME, "ce_time is not an ISO 8601 time") from None
    return Envelope(id=attrs["ce_id"], source=attrs["ce_source"], type=ce_type, time=time, event=event)
