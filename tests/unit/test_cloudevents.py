"""CloudEvents binary-mode encoding: what consumers and consoles rely on."""

from datetime import UTC, datetime
from uuid import uuid4

import pytest
from dispatch_shared.cloudevents import UndecodableMessage, decode, encode
from dispatch_shared.events import CallReceived, Location, Topic, UnitStatusChanged


def received() -> CallReceived:
    return CallReceived(
        call_id=uuid4(),
        cad_incident_id="CAD-1",
        narrative="Man hearing voices",
        location=Location(address="1 Main St", lat=47.6, lon=-122.3),
        received_at=datetime(2026, 1, 1, tzinfo=UTC),
    )


def test_encode_sets_binary_mode_headers_and_call_id_key() -> None:
    event = received()
    message = encode(event, source="/dispatch/intake", event_id="e-1")
    headers = dict(message.headers)
    assert message.topic == Topic.CALLS_RECEIVED.value == "dispatch.calls.received.v1"
    assert message.key == str(event.call_id).encode()
    assert headers["ce_specversion"] == b"1.0"
    assert headers["ce_id"] == b"e-1"
    assert headers["ce_source"] == b"/dispatch/intake"
    assert headers["ce_type"] == b"org.dispatch.call.received.v1"
    ce_time = headers["ce_time"]
    assert ce_time is not None
    assert datetime.fromisoformat(ce_time.decode()).tzinfo is not None
    assert headers["content-type"] == b"application/json"


def test_round_trip_gives_the_same_event() -> None:
    event = received()
    message = encode(event, source="/dispatch/intake")
    envelope = decode(message.headers, message.value)
    assert envelope.event == event
    assert envelope.type == CallReceived.ce_type
    assert envelope.source == "/dispatch/intake"


def test_unit_events_are_keyed_by_unit_id() -> None:
    event = UnitStatusChanged(
        unit_id="CR-7",
        type="co_response",
        status="available",
        name="Co-response 7",
        changed_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    assert encode(event, source="/dispatch/routing").key == b"CR-7"


@pytest.mark.parametrize(
    ("headers", "value", "reason"),
    [
        ([], b"{}", "ce_specversion"),
        ([("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"s")], b"{}", "ce_type"),
        (
            [("ce_specversion", b"1.0"), ("ce_id", b"x"), ("ce_source", b"s"), ("ce_type", b"nope")],
            b"{}",
            "unknown ce_type",
        ),
        (
            [
                ("ce_specversion", b"1.0"),
                ("ce_id", b"x"),
                ("ce_source", b"s"),
                ("ce_type", b"org.dispatch.call.received.v1"),
            ],
            b"not json",
            "invalid",
        ),
    ],
)
def test_decode_rejects_what_is_not_our_contract(
    headers: list[tuple[str, bytes | None]], value: bytes | None, reason: str
) -> None:
    with pytest.raises(UndecodableMessage, match=reason):
        decode(headers, value)


def test_decode_error_never_echoes_the_narrative() -> None:
    headers = [
        ("ce_specversion", b"1.0"),
        ("ce_id", b"x"),
        ("ce_source", b"s"),
        ("ce_type", b"org.dispatch.call.received.v1"),
    ]
    with pytest.raises(UndecodableMessage) as raised:
        decode(headers, b'{"narrative": "secret words", "call_id": "not-a-uuid"}')
    assert "secret words" not in str(raised.value)
