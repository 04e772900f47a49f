"""Re-routing on a new triage revision, end to end through routing: CallTriaged in over the real broker,
the call and roster over HTTP, CallRouted read back from the broker."""

import asyncio
import time
from collections.abc import Callable, Iterator
from typing import Any
from uuid import UUID, uuid4

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from alembic import command
from dispatch_shared.cloudevents import KafkaMessage, decode, encode
from dispatch_shared.db import make_engine, migration_config
from dispatch_shared.events import CallRouted, CallStatus, CallTriaged, Location, Route, ThreatLevel, Topic
from fastapi.testclient import TestClient
from routing.app import MIGRATIONS, RoutingSettings, create_app
from sqlalchemy import inspect, text

from tests.factories import T0, decision
from tests.stack import API_KEYS, auth

# Each test names its tier: db (a database only) or integration (the broker too).

PIKE_PLACE: dict[str, Any] = {"lat": 47.6097, "lon": -122.3422}
CAPITOL_HILL: dict[str, Any] = {"lat": 47.6253, "lon": -122.3222}
BALLARD: dict[str, Any] = {"lat": 47.6687, "lon": -122.3847}


class Routing:
    """The routing app on a real database and broker, with what a test needs to drive it."""

    def __init__(self, client: TestClient, bootstrap: str, namespace: str) -> None:
        self.client = client
        self.bootstrap = bootstrap
        self.namespace = namespace

    def add_units(self, *units: dict[str, Any]) -> None:
        response = self.client.post("/v1/units", json=list(units), headers=auth("ops"))
        assert response.status_code == 200, response.text

    def unit(self, unit_id: str) -> dict[str, Any]:
        response = self.client.get(f"/v1/units/{unit_id}", headers=auth("console"))
        assert response.status_code == 200, response.text
        return dict(response.json())

    def call(self, call_id: UUID) -> dict[str, Any] | None:
        response = self.client.get(f"/v1/calls/{call_id}", headers=auth("console"))
        return dict(response.json()) if response.status_code == 200 else None

    def step(self, call_id: UUID, status: str, **fields: Any) -> dict[str, Any]:
        response = self.client.post(
            f"/v1/calls/{call_id}/status", json={"status": status, **fields}, headers=auth("unit")
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    def publish(self, *events: CallTriaged, key: UUID | None = None) -> None:
        """Send triage decisions as triage would; ``key`` puts them all on one call's partition."""
        messages = []
        for event in events:
            message = encode(event, source="/test/triage")
            messages.append(
                KafkaMessage(
                    self.namespace + message.topic,
                    str(key).encode() if key else message.key,
                    message.value,
                    message.headers,
                )
            )
        asyncio.run(_send(self.bootstrap, messages))

    def wait_for(
        self, call_id: UUID, until: Callable[[dict[str, Any]], bool], timeout: float = 30
    ) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            call = self.call(call_id)
            if call is not None and until(call):
                return call
            time.sleep(0.1)
        raise AssertionError(f"call {call_id} never matched; last seen {self.call(call_id)}")

    def routed(self, until: Callable[[list[CallRouted]], bool], timeout: float = 30) -> list[CallRouted]:
        """CallRouted events on the broker once ``until`` holds, and any that follow within a second."""
        return asyncio.run(_routed(self.bootstrap, self.namespace + Topic.CALLS_ROUTED, until, timeout))


async def _send(bootstrap: str, messages: list[KafkaMessage]) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for message in messages:
            await producer.send_and_wait(
                message.topic, message.value, key=message.key, headers=list(message.headers)
            )
    finally:
        await producer.stop()


async def _routed(
    bootstrap: str, topic: str, until: Callable[[list[CallRouted]], bool], timeout: float
) -> list[CallRouted]:
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    events: list[CallRouted] = []
    try:
        deadline = time.monotonic() + timeout
        settled_at: float | None = None
        while settled_at is None or time.monotonic() < settled_at:
            if time.monotonic() > deadline:
                raise AssertionError(f"{topic}: condition not met; saw {events}")
            for batch in (await consumer.getmany(timeout_ms=300)).values():
                for record in batch:
                    event = decode(record.headers, record.value).event
                    assert isinstance(event, CallRouted)
                    events.append(event)
            if settled_at is None and until(events):
                settled_at = time.monotonic() + 1.0  # stragglers that should not be there show up too
    finally:
        await consumer.stop()
    return events


@pytest.fixture
def routing(database_url: str, namespace: str, kafka_bootstrap: str) -> Iterator[Routing]:
    app = create_app(
        RoutingSettings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_namespace=namespace,
            api_keys=API_KEYS,
            outbox_poll_seconds=0.1,
        )
    )
    with TestClient(app) as client:
        yield Routing(client, kafka_bootstrap, namespace)


def unit(unit_id: str, unit_type: str, where: dict[str, Any]) -> dict[str, Any]:
    return {"unit_id": unit_id, "type": unit_type, "name": f"Unit {unit_id}", **where}


def triaged(
    call_id: UUID,
    revision: int,
    route: Route,
    threat: ThreatLevel = ThreatLevel.NONE,
    priority: int = 3,
    **fields: Any,
) -> CallTriaged:
    return CallTriaged(
        call_id=call_id,
        decision=decision(route=route, threat_level=threat, priority=priority, **fields),
        location=Location(**PIKE_PLACE),
        received_at=T0,
        triaged_at=T0,
        revision=revision,
    )


def of_call(events: list[CallRouted], call_id: UUID) -> list[CallRouted]:
    return [event for event in events if event.call_id == call_id]


def unit_ids(call: dict[str, Any]) -> list[tuple[str, str]]:
    return [(u["unit_id"], u["role"]) for u in call["units"]]


@pytest.mark.integration
def test_co_response_revision_adds_a_team_and_keeps_the_clinician(routing: Routing) -> None:
    # The co-response team is farther than the officer, but comes first in the co_response chain.
    routing.add_units(
        unit("CL-1", "clinician", CAPITOL_HILL),
        unit("CO-1", "co_response", BALLARD),
        unit("P-1", "police", PIKE_PLACE),
    )
    call_id = uuid4()
    routing.publish(triaged(call_id, 1, Route.CLINICIAN_ONLY))
    routing.wait_for(call_id, lambda call: call["status"] == "assigned")

    routing.publish(triaged(call_id, 2, Route.CO_RESPONSE, ThreatLevel.ELEVATED, priority=2, crisis=True))
    call = routing.wait_for(call_id, lambda call: call["revision"] == 2)

    assert call["route"] == "co_response" and call["threat_level"] == "elevated" and call["priority"] == 2
    assert call["unit"]["unit_id"] == "CL-1"  # the primary stays the primary
    assert unit_ids(call) == [("CL-1", "primary"), ("CO-1", "added")]
    assert call["suggested_route"] is None and call["staging"] is False and call["awaiting_route"] is None
    assert routing.unit("CL-1")["current_call_id"] == routing.unit("CO-1")["current_call_id"] == str(call_id)
    assert routing.unit("P-1")["status"] == "available"
    routed = of_call(routing.routed(lambda events: len(of_call(events, call_id)) >= 2), call_id)
    assert [(e.reason, e.revision, e.unit.unit_id if e.unit else None) for e in routed] == [
        ("triaged", 1, "CL-1"),
        ("re_triaged", 2, "CO-1"),
    ]
    assert routed[1].route is Route.CO_RESPONSE and routed[1].status is CallStatus.ASSIGNED

    # Steps move the primary; resolving frees every unit on the call.
    routing.step(call_id, "en_route")
    routing.step(call_id, "on_scene")
    assert (routing.unit("CL-1")["status"], routing.unit("CO-1")["status"]) == ("on_scene", "dispatched")
    routing.step(call_id, "resolved", disposition="resolved_on_scene")
    for unit_id in ("CL-1", "CO-1"):
        freed = routing.unit(unit_id)
        assert (freed["status"], freed["current_call_id"]) == ("available", None)


@pytest.mark.integration
def test_imminent_revision_sends_police_and_stages_the_clinician(routing: Routing) -> None:
    routing.add_units(unit("CL-1", "clinician", PIKE_PLACE), unit("P-1", "police", BALLARD))
    call_id = uuid4()
    routing.publish(triaged(call_id, 1, Route.CLINICIAN_ONLY))
    routing.wait_for(call_id, lambda call: call["status"] == "assigned")
    routing.step(call_id, "on_scene")

    routing.publish(
        triaged(call_id, 2, Route.POLICE, ThreatLevel.IMMINENT, priority=1, clinician_followup=True)
    )
    call = routing.wait_for(call_id, lambda call: call["revision"] == 2)

    assert (call["route"], call["threat_level"], call["priority"]) == ("police", "imminent", 1)
    assert call["staging"] is True
    assert unit_ids(call) == [("CL-1", "primary"), ("P-1", "added")]
    assert call["status"] == "on_scene"  # the call's step is the clinician's; police are on their way
    routed = of_call(routing.routed(lambda events: len(of_call(events, call_id)) >= 2), call_id)
    assert (routed[-1].reason, routed[-1].revision, routed[-1].route) == ("re_triaged", 2, Route.POLICE)
    assert routed[-1].unit is not None and routed[-1].unit.unit_id == "P-1"
    assert [e.staging for e in routed] == [False, True]  # the team is told to stage, on the event itself

    # Cancelling (here: resolving from the scene) frees both.
    routing.step(call_id, "resolved", disposition="report_taken")
    assert routing.unit("P-1")["status"] == routing.unit("CL-1")["status"] == "available"


@pytest.mark.integration
def test_escalation_with_no_unit_free_waits_for_the_next_one(routing: Routing) -> None:
    routing.add_units(unit("CL-1", "clinician", PIKE_PLACE))
    call_id = uuid4()
    routing.publish(triaged(call_id, 1, Route.CLINICIAN_ONLY))
    routing.wait_for(call_id, lambda call: call["status"] == "assigned")

    routing.publish(triaged(call_id, 2, Route.POLICE, ThreatLevel.IMMINENT, priority=1))
    call = routing.wait_for(call_id, lambda call: call["revision"] == 2)
    assert call["awaiting_route"] == "police" and call["staging"] is True
    assert unit_ids(call) == [("CL-1", "primary")]

    routing.add_units(unit("P-1", "police", BALLARD))  # a police unit comes free: it goes at once
    call = routing.wait_for(call_id, lambda call: len(call["units"]) == 2)
    assert unit_ids(call) == [("CL-1", "primary"), ("P-1", "added")] and call["awaiting_route"] is None
    assert routing.unit("P-1")["current_call_id"] == str(call_id)

    routing.step(call_id, "cancelled")
    assert routing.unit("P-1")["status"] == routing.unit("CL-1")["status"] == "available"


@pytest.mark.integration
def test_a_lesser_revision_is_only_suggested(routing: Routing) -> None:
    routing.add_units(unit("CO-1", "co_response", PIKE_PLACE), unit("CL-1", "clinician", PIKE_PLACE))
    call_id, sentinel = uuid4(), uuid4()
    routing.publish(triaged(call_id, 1, Route.CO_RESPONSE, ThreatLevel.HIGH, priority=2))
    before = routing.wait_for(call_id, lambda call: call["status"] == "assigned")

    # The sentinel call follows on the same partition: once it is routed, revision 2 was handled.
    routing.publish(
        triaged(call_id, 2, Route.CLINICIAN_ONLY, ThreatLevel.NONE, priority=3),
        triaged(sentinel, 1, Route.POLICE, ThreatLevel.HIGH),
        key=call_id,
    )
    call = routing.wait_for(call_id, lambda call: call["revision"] == 2)

    assert call["suggested_route"] == "clinician_only"
    assert (call["route"], call["threat_level"], call["priority"]) == ("co_response", "high", 2)
    assert call["units"] == before["units"] and call["status"] == "assigned"
    assert call["decision"]["route"] == "clinician_only"  # triage's latest reading, shown with the suggestion
    assert routing.unit("CL-1")["status"] == "available"
    routed = routing.routed(lambda events: bool(of_call(events, sentinel)))
    assert [e.reason for e in of_call(routed, call_id)] == ["triaged"]  # nothing published for a suggestion

    # A later revision that agrees with the response in force clears the suggestion.
    routing.publish(triaged(call_id, 3, Route.CO_RESPONSE, ThreatLevel.HIGH, priority=2))
    call = routing.wait_for(call_id, lambda call: call["revision"] == 3)
    assert call["suggested_route"] is None and call["units"] == before["units"]


@pytest.mark.integration
def test_a_late_revision_is_ignored(routing: Routing) -> None:
    routing.add_units(unit("CL-1", "clinician", PIKE_PLACE), unit("CO-1", "co_response", PIKE_PLACE))
    call_id, sentinel = uuid4(), uuid4()
    routing.publish(triaged(call_id, 2, Route.CO_RESPONSE, ThreatLevel.ELEVATED, priority=2))
    routing.wait_for(call_id, lambda call: call["status"] == "assigned")

    routing.publish(
        triaged(call_id, 1, Route.CLINICIAN_ONLY),  # the first decision, delivered late
        triaged(call_id, 2, Route.POLICE, ThreatLevel.IMMINENT, priority=1),  # same revision, other content
        triaged(sentinel, 1, Route.CLINICIAN_ONLY),
        key=call_id,
    )
    routing.wait_for(sentinel, lambda call: call["status"] == "assigned")

    call = routing.call(call_id)
    assert call is not None
    assert (call["revision"], call["route"], call["threat_level"]) == (2, "co_response", "elevated")
    assert unit_ids(call) == [("CO-1", "primary")] and call["suggested_route"] is None
    routed = routing.routed(lambda events: bool(of_call(events, sentinel)))
    assert [(e.reason, e.revision) for e in of_call(routed, call_id)] == [("triaged", 2)]


@pytest.mark.integration
def test_a_queued_call_is_requeued_then_assigned_as_a_fresh_call(routing: Routing) -> None:
    routing.add_units(
        unit("P-1", "police", PIKE_PLACE)
    )  # serves neither clinician_only nor co_response first
    call_id = uuid4()
    routing.publish(triaged(call_id, 1, Route.CLINICIAN_ONLY, priority=4))
    routing.wait_for(call_id, lambda call: call["status"] == "queued")

    routing.publish(triaged(call_id, 2, Route.CLINICIAN_ONLY, priority=2))
    call = routing.wait_for(call_id, lambda call: call["revision"] == 2)
    assert (call["status"], call["priority"], call["units"]) == ("queued", 2, [])

    # Revision 3 needs co_response; a free officer serves it as its fallback, as for a fresh call.
    routing.publish(triaged(call_id, 3, Route.CO_RESPONSE, ThreatLevel.HIGH, priority=2))
    call = routing.wait_for(call_id, lambda call: call["revision"] == 3)
    assert (call["status"], call["route"]) == ("assigned", "co_response")
    assert unit_ids(call) == [("P-1", "primary")] and call["fallback_used"] is True
    routed = of_call(routing.routed(lambda events: len(of_call(events, call_id)) >= 3), call_id)
    assert [(e.reason, e.revision, e.status, e.priority) for e in routed] == [
        ("triaged", 1, "queued", 4),
        ("re_triaged", 2, "queued", 2),
        ("re_triaged", 3, "assigned", 2),
    ]


@pytest.mark.db
def test_calls_routed_before_revisions_read_as_revision_one_and_the_migration_reverts(
    database_url: str,
) -> None:
    config = migration_config(migrations_dir=MIGRATIONS, service="routing")
    engine = make_engine(database_url)
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0004")
            connection.execute(
                text(
                    "INSERT INTO routing_calls (call_id, route, priority, status, clinician_followup, "
                    "received_at, routed_at, updated_at, unit_id, unit_type) VALUES ('old', 'co_response', "
                    "2, 'assigned', false, :at, :at, :at, 'CO-1', 'co_response')"
                ),
                {"at": T0.replace(tzinfo=None)},
            )
            command.upgrade(config, "head")
            row = connection.execute(
                text("SELECT revision, suggested_route, staging, awaiting_route FROM routing_calls")
            ).one()
            assert (row[0], row[1], bool(row[2]), row[3]) == (1, None, False, None)
            assert "routing_call_units" in inspect(connection).get_table_names()
            command.downgrade(config, "0004")
            assert "routing_call_units" not in inspect(connection).get_table_names()
            columns = {c["name"] for c in inspect(connection).get_columns("routing_calls")}
            assert not columns & {"revision", "suggested_route", "staging", "awaiting_route"}
            assert connection.execute(text("SELECT unit_id FROM routing_calls")).scalar_one() == "CO-1"
    finally:
        engine.dispose()
