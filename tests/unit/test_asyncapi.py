"""``/asyncapi.json`` is a valid AsyncAPI 3.0 document of every topic, true to what goes on the wire.

It is validated against the official AsyncAPI 3.0.0 JSON Schema (a copy under
``tests/data/asyncapi/``), and checked against the real encoder and dead-letter writer: a message
``cloudevents.encode`` makes, and one ``consumer.dead_letter_message`` makes, have the headers, key
and payload the document describes; the receiving operations are the handlers each service wires.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from functools import cache
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from dispatch_shared.asyncapi import (
    CONSUMERS,
    DEAD_LETTER_HEADERS,
    KEY_FIELDS,
    PRODUCERS,
    asyncapi_document,
    channel_id,
)
from dispatch_shared.cloudevents import FaultReason, KafkaMessage, RecordFault, ce_headers, encode
from dispatch_shared.consumer import dead_letter_message
from dispatch_shared.events import (
    EVENT_TYPES,
    AssignedUnit,
    CallReceived,
    CallRouted,
    CallStatus,
    CallStatusChanged,
    CallUpdated,
    Event,
    Indicator,
    IndicatorFamily,
    Location,
    Route,
    Topic,
    UnitStatus,
    UnitStatusChanged,
    UnitType,
)
from dispatch_shared.kafka import all_topics
from dispatch_shared.settings import ServiceSettings
from fastapi.testclient import TestClient
from jsonschema import Draft7Validator
from jsonschema.exceptions import ValidationError

from tests.factories import triaged
from tests.unit.service_apps import SERVICES, service_app

SPEC = Path(__file__).parents[1] / "data" / "asyncapi" / "asyncapi-3.0.0.schema.json"
AT = datetime(2026, 3, 1, 22, 5, tzinfo=UTC)
CALL = UUID("3f2c1e4a-8b7d-4c1e-9f3a-2b6d8e0c5a71")
SPEECH = Indicator(
    family=IndicatorFamily.BEHAVIORAL, code="disorganized_speech", text="shouting", span=(0, 8)
)


@cache
def spec_validator() -> Draft7Validator:
    return Draft7Validator(json.loads(SPEC.read_text(encoding="utf-8")))


def document() -> dict[str, Any]:
    return asyncapi_document(ServiceSettings())


def one_of_each() -> list[Event]:
    """A valid event of every type, as the services publish them."""
    location = Location(address="1st Ave & Pike St", lat=47.6097, lon=-122.3422)
    events: list[Event] = [
        CallReceived(
            call_id=CALL, cad_incident_id="SEA-1", narrative="shouting", location=location, received_at=AT
        ),
        CallUpdated(
            call_id=CALL,
            cad_incident_id="SEA-1",
            revision=2,
            change="note",
            narrative="shouting\nhas a bat",
            received_at=AT,
            updated_at=AT,
        ),
        triaged(CALL, indicators=[SPEECH], negated=[SPEECH]),
        CallRouted(
            call_id=CALL,
            route=Route.CO_RESPONSE,
            priority=2,
            status=CallStatus.ASSIGNED,
            unit=AssignedUnit(unit_id="CR-3", type=UnitType.CO_RESPONSE),
            distance_km=1.8,
            routed_at=AT,
        ),
        CallStatusChanged(call_id=CALL, status=CallStatus.EN_ROUTE, unit_id="CR-3", changed_at=AT),
        UnitStatusChanged(
            unit_id="CR-3", type=UnitType.CO_RESPONSE, status=UnitStatus.EN_ROUTE, name="CR 3", changed_at=AT
        ),
    ]
    assert sorted(type(event).__name__ for event in events) == sorted(
        m.__name__ for m in EVENT_TYPES.values()
    )
    return events


def validator_for(doc: dict[str, Any], schema: dict[str, Any]) -> Draft7Validator:
    """A draft-07 validator for ``schema`` resolving ``#/components/...`` in ``doc``."""
    return Draft7Validator({**schema, "components": doc["components"]})


def header_values(message: KafkaMessage) -> dict[str, str | None]:
    return {name: None if value is None else value.decode() for name, value in message.headers}


def test_the_document_is_valid_asyncapi_3() -> None:
    doc = document()
    assert doc["asyncapi"] == "3.0.0"
    errors = [f"{list(error.absolute_path)}: {error.message}" for error in spec_validator().iter_errors(doc)]
    assert errors == []


def test_the_official_schema_refuses_a_broken_document() -> None:
    # The copy is really applied: an operation with an action AsyncAPI 3 does not have fails.
    doc = document()
    next(iter(doc["operations"].values()))["action"] = "publish"
    with pytest.raises(ValidationError):
        spec_validator().validate(doc)


def test_every_topic_and_its_dead_letters_is_a_channel() -> None:
    channels = document()["channels"]
    assert sorted(channel["address"] for channel in channels.values()) == sorted(all_topics())
    for topic in Topic:
        assert channels[channel_id(topic)]["address"] == topic.value
        assert channels[channel_id(topic, dead_letters=True)]["address"] == f"{topic.value}.dlq"


@pytest.mark.parametrize("event", one_of_each(), ids=lambda event: type(event).__name__)
def test_an_encoded_message_is_what_the_document_describes(event: Event) -> None:
    doc = document()
    name = type(event).__name__
    message = doc["components"]["messages"][name]
    assert (
        doc["channels"][channel_id(event.topic)]["messages"][name]["$ref"] == f"#/components/messages/{name}"
    )
    encoded = encode(event, source="/dispatch/routing", time=AT)
    # Payload: the model's own schema, and the encoded value passes it.
    payload = json.loads(encoded.value or b"")
    validator_for(doc, message["payload"]).validate(payload)
    assert doc["components"]["schemas"][name]["properties"].keys() == type(event).model_fields.keys()
    # Key: the field the document names, in the form it gives.
    field = KEY_FIELDS[event.topic]
    assert encoded.key == str(payload[field]).encode()
    Draft7Validator(message["bindings"]["kafka"]["key"]).validate((encoded.key or b"").decode())
    # Headers: every one the encoder writes is described; the required ones are always written.
    headers = header_values(encoded)
    validator_for(doc, message["headers"]).validate(headers)
    assert set(headers) == set(message["headers"]["required"])
    assert message["headers"]["properties"]["ce_type"]["const"] == event.ce_type


def test_the_optional_trace_header_is_described() -> None:
    headers = document()["components"]["messages"]["CallRouted"]["headers"]
    traced = ce_headers(
        event_id="e-1",
        source="/dispatch/routing",
        ce_type=CallRouted.ce_type,
        time=AT,
        traceparent="00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01",
    )
    values = {name: value.decode() for name, value in traced}
    assert set(values) <= set(headers["properties"])
    Draft7Validator(headers).validate(values)


def test_a_dead_letter_carries_the_headers_the_document_names() -> None:
    doc = document()
    original = encode(one_of_each()[0], source="/dispatch/intake", time=AT)
    parked = dead_letter_message(
        topic=original.topic,
        partition=3,
        offset=42,
        key=original.key,
        value=original.value,
        headers=list(original.headers),
        fault=RecordFault(FaultReason.REJECTED, "unknown call"),
        group_id="triage",
    )
    assert parked.topic == doc["channels"][channel_id(Topic.CALLS_RECEIVED, dead_letters=True)]["address"]
    added = {name for name, _ in parked.headers} - {name for name, _ in original.headers}
    assert added == set(DEAD_LETTER_HEADERS)
    Draft7Validator(doc["components"]["messages"]["DeadLetter"]["headers"]).validate(header_values(parked))


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_serves_the_document_and_receives_what_it_says(service: str) -> None:
    app = service_app(service)
    served = TestClient(app).get("/asyncapi.json")
    assert served.status_code == 200
    doc = served.json()
    assert {channel["address"] for channel in doc["channels"].values()} == set(all_topics())
    consumer = app.state.runtime.consumer
    wired = set(consumer.handlers) if consumer is not None else set()
    documented = {topic for topic, consumers in CONSUMERS.items() if service in consumers}
    assert wired == documented
    receives = {
        op["channel"]["$ref"].removeprefix("#/channels/")
        for op in doc["operations"].values()
        if op["action"] == "receive" and op["tags"] == [{"name": service}]
    }
    assert receives == {channel_id(topic) for topic in documented}
    sends = {op["channel"]["$ref"] for op in doc["operations"].values() if op["action"] == "send"}
    assert all(f"#/channels/{channel_id(topic)}" in sends for topic in PRODUCERS)
