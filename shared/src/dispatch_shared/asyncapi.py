"""The AsyncAPI 3.0 document of the event contract, served by every service at ``/asyncapi.json``.

It is generated from the contract itself, so it cannot drift from what goes on the wire: one
channel per ``Topic`` and one per dead-letter topic (``<topic>.dlq``); each event's payload schema
is its pydantic model's JSON schema (``Event.model_json_schema``, as pinned under
``tests/data/contract/``); the CloudEvents headers are those ``cloudevents.ce_headers`` writes
(binary mode); the Kafka message key is the event's call id, or unit id for unit events.
Operations say which service sends and which receives each topic.
"""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from dispatch_shared.cloudevents import CONTENT_TYPE, SPEC_VERSION, FaultReason, ce_headers
from dispatch_shared.events import EVENT_TYPES, Event, Topic, dead_letter_topic
from dispatch_shared.settings import ServiceSettings

__all__ = [
    "ASYNCAPI_VERSION",
    "CE_HEADERS",
    "CONSUMERS",
    "DEAD_LETTER_HEADERS",
    "KEY_FIELDS",
    "PRODUCERS",
    "asyncapi_document",
    "channel_id",
]

ASYNCAPI_VERSION = "3.0.0"
KAFKA_BINDING_VERSION = "0.5.0"

PRODUCERS: dict[Topic, str] = {
    Topic.CALLS_RECEIVED: "intake",
    Topic.CALLS_UPDATED: "intake",
    Topic.CALLS_TRIAGED: "triage",
    Topic.CALLS_ROUTED: "routing",
    Topic.CALLS_STATUS: "routing",
    Topic.UNITS_STATUS: "routing",
}
"""The service that publishes each topic (through its outbox)."""

CONSUMERS: dict[Topic, tuple[str, ...]] = {
    Topic.CALLS_RECEIVED: ("triage",),
    Topic.CALLS_UPDATED: ("triage",),
    Topic.CALLS_TRIAGED: ("routing", "intake"),
    Topic.CALLS_ROUTED: ("intake",),
    Topic.CALLS_STATUS: ("intake",),
    Topic.UNITS_STATUS: (),
}
"""The services that consume each topic; each dead-letters what it cannot apply to ``<topic>.dlq``."""

KEY_FIELDS: dict[Topic, str] = {topic: "call_id" for topic in Topic} | {Topic.UNITS_STATUS: "unit_id"}
"""The payload field whose value is the Kafka message key (``Event.key``)."""

CE_HEADERS: dict[str, dict[str, Any]] = {
    "ce_specversion": {"type": "string", "const": SPEC_VERSION, "description": "CloudEvents version."},
    "ce_id": {
        "type": "string",
        "format": "uuid",
        "description": "The event's id, unique per event; consumers apply an id once (their inbox).",
    },
    "ce_source": {
        "type": "string",
        "pattern": "^/dispatch/[a-z]+$",
        "description": "The publishing service, '/dispatch/<service>' (e.g. '/dispatch/intake').",
    },
    "ce_type": {"type": "string", "description": "The event type, one per topic version."},
    "ce_time": {
        "type": "string",
        "format": "date-time",
        "description": "When the event was made (ISO 8601 with offset, UTC).",
    },
    "content-type": {
        "type": "string",
        "const": CONTENT_TYPE,
        "description": "The payload's media type: binary mode, the event as JSON in the value.",
    },
    "ce_traceparent": {
        "type": "string",
        "pattern": "^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$",
        "description": "CloudEvents Distributed Tracing extension: the W3C traceparent of the span "
        "that wrote the event. Only on events written inside a traced span; a malformed one starts "
        "a new trace.",
    },
}
"""Each header the encoder writes (``cloudevents.ce_headers``), with what it holds."""

_SAMPLE_TRACEPARENT = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"

DEAD_LETTER_HEADERS: dict[str, dict[str, Any]] = {
    "dlq_original_topic": {"type": "string", "description": "The topic the record was read from."},
    "dlq_original_partition": {"type": "string", "pattern": "^[0-9]+$", "description": "Its partition."},
    "dlq_original_offset": {"type": "string", "pattern": "^[0-9]+$", "description": "Its offset."},
    "dlq_error": {
        "type": "string",
        "description": "The exception class and detail; never the record's body.",
    },
    "dlq_reason": {
        "type": "string",
        "enum": [reason.value for reason in FaultReason],
        "description": "Why the record can never be applied (cloudevents.FaultReason).",
    },
    "dlq_consumer_group": {"type": "string", "description": "The consumer group that parked it."},
}
"""Headers a consumer adds when it parks a record on ``<topic>.dlq`` (``consumer.dead_letter_message``)."""

_REF = "#/components/schemas/{model}"


def channel_id(topic: Topic, *, dead_letters: bool = False) -> str:
    """The channel's id in the document: ``callsReceived`` for CALLS_RECEIVED, ``callsReceivedDlq``."""
    first, *rest = topic.name.lower().split("_")
    name = first + "".join(part.capitalize() for part in rest)
    return f"{name}Dlq" if dead_letters else name


def _draft7(schema: Any) -> Any:
    """``schema`` in the JSON Schema draft 7 that AsyncAPI schemas extend: tuples as ``items`` lists."""
    if isinstance(schema, list):
        return [_draft7(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    converted = {key: _draft7(value) for key, value in schema.items()}
    if "prefixItems" in converted:
        converted["items"] = converted.pop("prefixItems")
        converted["additionalItems"] = False
    return converted


def _event_schemas() -> dict[str, Any]:
    """Every event model's schema and the schemas it uses, by model name, refs into components."""
    schemas: dict[str, Any] = {}
    for model in EVENT_TYPES.values():
        schema = model.model_json_schema(ref_template=_REF)
        for name, definition in schema.pop("$defs", {}).items():
            schemas.setdefault(name, _draft7(definition))
        schemas[model.__name__] = _draft7(schema)
    return schemas


def _headers_schema(ce_type: str) -> dict[str, Any]:
    """The CloudEvents headers of one event type, as ``ce_headers`` writes them.

    Required: those on every event; the others (``ce_traceparent``) only on some.
    """
    at = datetime.now(UTC)
    always = ce_headers(event_id="", source="", ce_type=ce_type, time=at)
    sample = ce_headers(event_id="", source="", ce_type=ce_type, time=at, traceparent=_SAMPLE_TRACEPARENT)
    properties = {
        name: copy.deepcopy(
            CE_HEADERS.get(name, {"type": "string", "description": "Written by the encoder."})
        )
        for name, _ in sample
    }
    properties["ce_type"] = {**properties["ce_type"], "const": ce_type}
    return {
        "type": "object",
        "description": "CloudEvents 1.0 attributes in Kafka binary mode, UTF-8 header values.",
        "properties": properties,
        "required": [name for name, _ in always],
    }


def _key_schema(model: type[Event], schemas: dict[str, Any]) -> dict[str, Any]:
    field = KEY_FIELDS[model.topic]
    key: dict[str, Any] = copy.deepcopy(schemas[model.__name__]["properties"][field])
    key["description"] = f"The {field.replace('_', ' ')} (UTF-8), so one {field[:-3]}'s events stay in order."
    key.pop("title", None)
    return key


def _summary(model: type[Event]) -> str:
    return (model.__doc__ or model.__name__).strip().splitlines()[0]


def _messages(schemas: dict[str, Any]) -> dict[str, Any]:
    messages: dict[str, Any] = {}
    for model in EVENT_TYPES.values():
        messages[model.__name__] = {
            "name": model.__name__,
            "title": model.__name__,
            "summary": _summary(model),
            "contentType": CONTENT_TYPE,
            "headers": _headers_schema(model.ce_type),
            "payload": {"$ref": _REF.format(model=model.__name__)},
            "bindings": {
                "kafka": {"key": _key_schema(model, schemas), "bindingVersion": KAFKA_BINDING_VERSION}
            },
            "x-cloudevents-type": model.ce_type,
        }
    messages["DeadLetter"] = {
        "name": "DeadLetter",
        "title": "Dead letter",
        "summary": "A record a consumer could never apply, parked as it came with headers saying why.",
        "description": "Key, value and headers are the original record's (a null header value stays "
        "null); the value may be anything, since the record may not have been a valid event. "
        "Nothing consumes these topics: operators read them, fix the cause and replay by hand.",
        "headers": {
            "type": "object",
            "properties": copy.deepcopy(DEAD_LETTER_HEADERS),
            "required": list(DEAD_LETTER_HEADERS),
            "additionalProperties": True,
        },
        "payload": {"description": "The original record's value, byte for byte."},
    }
    return messages


def _channels(settings: ServiceSettings | None) -> dict[str, Any]:
    channels: dict[str, Any] = {}
    binding: dict[str, Any] = {"bindingVersion": KAFKA_BINDING_VERSION}
    if settings is not None:
        binding |= {
            "partitions": settings.kafka_topic_partitions,
            "replicas": settings.kafka_replication_factor,
        }
    for model in EVENT_TYPES.values():
        topic = model.topic
        channels[channel_id(topic)] = {
            "address": topic.value,
            "title": topic.value,
            "description": f"{_summary(model)} Key: the {KEY_FIELDS[topic].replace('_', ' ')}.",
            "messages": {model.__name__: {"$ref": f"#/components/messages/{model.__name__}"}},
            "bindings": {"kafka": {"topic": topic.value, **binding}},
        }
        channels[channel_id(topic, dead_letters=True)] = {
            "address": dead_letter_topic(topic.value),
            "title": dead_letter_topic(topic.value),
            "description": f"Records of {topic.value} that a consumer could never apply.",
            "messages": {"DeadLetter": {"$ref": "#/components/messages/DeadLetter"}},
            "bindings": {"kafka": {"topic": dead_letter_topic(topic.value), **binding}},
        }
    return channels


def _operation(action: str, service: str, channel: str, message: str, summary: str) -> dict[str, Any]:
    return {
        "action": action,
        "channel": {"$ref": f"#/channels/{channel}"},
        "summary": summary,
        "messages": [{"$ref": f"#/channels/{channel}/messages/{message}"}],
        "tags": [{"name": service}],
    }


def _operations() -> dict[str, Any]:
    operations: dict[str, Any] = {}
    for model in EVENT_TYPES.values():
        topic, name = model.topic, model.__name__
        producer = PRODUCERS[topic]
        operations[f"{producer}Sends{name}"] = _operation(
            "send", producer, channel_id(topic), name, f"{producer} publishes {name} (outbox relay)."
        )
        for consumer in CONSUMERS[topic]:
            operations[f"{consumer}Receives{name}"] = _operation(
                "receive", consumer, channel_id(topic), name, f"{consumer} applies {name} once per ce_id."
            )
            operations[f"{consumer}DeadLetters{name}"] = _operation(
                "send",
                consumer,
                channel_id(topic, dead_letters=True),
                "DeadLetter",
                f"{consumer} parks a {topic.value} record it can never apply.",
            )
    return operations


def asyncapi_document(settings: ServiceSettings | None = None) -> dict[str, Any]:
    """The AsyncAPI 3.0 document of every topic; ``settings`` adds the broker and topic sizing.

    Topic addresses are the contract names; a deployment with ``KAFKA_NAMESPACE`` prefixes each.
    """
    schemas = _event_schemas()
    document: dict[str, Any] = {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "Dispatch triage events",
            "version": "1.0.0",
            "description": "The Kafka event contract between intake, triage and routing. Every message is a "
            "CloudEvents 1.0 event in binary mode: attributes as `ce_*` headers, the event as JSON "
            "in the value. Topic names are versioned: a breaking change gets a new `.vN` topic.",
            "license": {"name": "Apache-2.0", "url": "https://www.apache.org/licenses/LICENSE-2.0"},
            "contact": {"name": "Dispatch triage maintainers"},
        },
        "defaultContentType": CONTENT_TYPE,
        "channels": _channels(settings),
        "operations": _operations(),
        "components": {"schemas": schemas, "messages": _messages(schemas)},
    }
    if settings is not None:
        host = settings.kafka_bootstrap_servers.split(",")[0].strip()
        namespace = (
            f" Topics are prefixed with {settings.kafka_namespace!r}." if settings.kafka_namespace else ""
        )
        document["servers"] = {
            "kafka": {
                "host": host,
                "protocol": "kafka",
                "description": f"The broker this service uses (KAFKA_BOOTSTRAP_SERVERS).{namespace}",
            }
        }
    return document
