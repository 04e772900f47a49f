"""CloudEvents 1.0 in Kafka binary mode: attributes travel as ``ce_*`` headers, the event as JSON."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from uuid import uuid4

from pydantic import ValidationError

from dispatch_shared.events import EVENT_TYPES, Event, utcnow

SPEC_VERSION = "1.0"
CONTENT_TYPE = "application/json"

Headers = list[tuple[str, bytes]]


class UndecodableMessage(ValueError):
    """A message that is not a valid event of our contract; it belongs on the dead-letter topic."""


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
    key: bytes
    value: bytes
    headers: Headers


def new_event_id() -> str:
    """A fresh CloudEvents id; consumers deduplicate on it."""
    return str(uuid4())


def ce_headers(*, event_id: str, source: str, ce_type: str, time: datetime) -> Headers:
    """The binary-mode CloudEvents headers of one message."""
    return [
        ("ce_specversion", SPEC_VERSION.encode()),
        ("ce_id", event_id.encode()),
        ("ce_source", source.encode()),
        ("ce_type", ce_type.encode()),
        ("ce_time", time.isoformat().encode()),
        ("content-type", CONTENT_TYPE.encode()),
    ]


def encode(
    event: Event, *, source: str, event_id: str | None = None, time: datetime | None = None
) -> KafkaMessage:
    """Encode an event as a binary-mode CloudEvents Kafka message keyed by its call (or unit) id."""
    return KafkaMessage(
        topic=event.topic,
        key=event.key().encode(),
        value=event.model_dump_json().encode(),
        headers=ce_headers(
            event_id=event_id or new_event_id(),
            source=source,
            ce_type=event.ce_type,
            time=time or utcnow(),
        ),
    )


def decode(headers: Headers | tuple[tuple[str, bytes], ...], value: bytes | None) -> Envelope:
    """Decode a binary-mode CloudEvents message into our event model, or raise UndecodableMessage."""
    attrs = {name: raw.decode("utf-8", errors="replace") for name, raw in headers}
    if attrs.get("ce_specversion") != SPEC_VERSION:
        raise UndecodableMessage(f"unsupported ce_specversion {attrs.get('ce_specversion')!r}")
    for required in ("ce_id", "ce_source", "ce_type"):
        if not attrs.get(required):
            raise UndecodableMessage(f"missing header {required}")
    model = EVENT_TYPES.get(attrs["ce_type"])
    if model is None:
        raise UndecodableMessage(f"unknown ce_type {attrs['ce_type']!r}")
    if value is None:
        raise UndecodableMessage("empty message body")
    try:
        event = model.model_validate_json(value)
        time = datetime.fromisoformat(attrs["ce_time"]) if attrs.get("ce_time") else utcnow()
    except (ValidationError, ValueError) as exc:
        raise UndecodableMessage(f"invalid {attrs['ce_type']} body: {exc.__class__.__name__}") from exc
    return Envelope(
        id=attrs["ce_id"], source=attrs["ce_source"], type=attrs["ce_type"], time=time, event=event
    )
