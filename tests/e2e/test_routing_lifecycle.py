"""Calls posted to intake are triaged, queued or assigned, moved to resolution, and free their unit.

Runs the three services as real processes on the real broker. The routes come from triage, read
back from the ledger, and the expectations follow from them and the default fallback chain, so
the test holds whatever route the policy gives, as long as a crisis call has a fallback.
"""

import json
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from dispatch_shared.cloudevents import decode
from dispatch_shared.events import CallRouted, Route, Topic, UnitType
from routing.assignment import DEFAULT_FALLBACKS

from tests.e2e.conftest import Stack
from tests.stack import auth, collect

pytestmark = pytest.mark.e2e

CRISIS = "Man sitting on the bench crying, says he wants to die. He is not armed."
VIOLENCE = "A man is punching the bus driver."
PIKE_PLACE = {"lat": 47.6097, "lon": -122.3422, "address": "Pike Place Market"}
CAPITOL_HILL = {"lat": 47.6253, "lon": -122.3222}
THIRD_AND_PINE = {"lat": 47.6114, "lon": -122.3381}
BALLARD = {"lat": 47.6687, "lon": -122.3847}


def post_call(intake: httpx.Client, narrative: str, location: dict[str, Any], tag: str) -> str:
    payload = {
        "cad_incident_id": f"E2E-{tag}-{time.monotonic_ns()}",
        "narrative": narrative,
        "location": location,
    }
    response = intake.post("/v1/calls", json=payload, headers=auth("cad"))
    assert response.status_code == 202, response.text
    return str(response.json()["call_id"])


def ledger(intake: httpx.Client, call_id: str, until: Any, what: str, timeout: float = 30) -> dict[str, Any]:
    """The ledger record once ``until(record)`` holds."""
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = intake.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
        if until(record):
            return record
        time.sleep(0.2)
    raise AssertionError(f"ledger never showed {what}: {record}")


def status_is(status: str) -> Any:
    return lambda record: record.get("status") == status


def register(routing: httpx.Client, unit_id: str, unit_type: UnitType, where: dict[str, Any]) -> None:
    unit = {
        "unit_id": unit_id,
        "type": unit_type.value,
        "name": f"Unit {unit_id}",
        "lat": where["lat"],
        "lon": where["lon"],
    }
    response = routing.post("/v1/units", json=unit, headers=auth("ops"))
    assert response.status_code == 200, response.text


def step(routing: httpx.Client, call_id: str, status: str, **fields: Any) -> httpx.Response:
    return routing.post(
        f"/v1/calls/{call_id}/status", json={"status": status, **fields}, headers=auth("unit")
    )


def dispatch_order(record: dict[str, Any]) -> tuple[int, datetime]:
    return record["priority"], datetime.fromisoformat(record["received_at"])


def read_stream(url: str, *, until: Any, timeout: float = 20) -> list[tuple[int, str, dict[str, Any]]]:
    """SSE events from the start of routing's stream until ``until(events)`` holds."""
    events: list[tuple[int, str, dict[str, Any]]] = []
    fields: dict[str, str] = {}
    deadline = time.monotonic() + timeout
    with httpx.stream(
        "GET", f"{url}/v1/stream", headers=auth("console") | {"Last-Event-ID": "0"}, timeout=timeout
    ) as response:
        assert response.status_code == 200 and response.headers["content-type"].startswith(
            "text/event-stream"
        )
        for line in response.iter_lines():
            if line == "" and "data" in fields:
                events.append((int(fields["id"]), fields["event"], json.loads(fields["data"])))
                fields = {}
                if until(events):
                    return events
            elif line and not line.startswith(":"):
                name, _, value = line.partition(": ")
                fields[name] = value
            if time.monotonic() > deadline:
                break
    raise AssertionError(f"stream ended before the expected events: {events}")


async def test_calls_are_queued_served_by_a_fallback_resolved_and_the_freed_unit_takes_the_next(
    stack: Stack,
) -> None:
    intake = httpx.Client(base_url=stack["intake"].url, timeout=10)
    routing = httpx.Client(base_url=stack["routing"].url, timeout=10)
    with intake, routing:
        # The roster is empty: both crisis calls wait in the queue.
        first_id = post_call(intake, CRISIS, PIKE_PLACE, "a")
        first = ledger(intake, first_id, status_is("queued"), "the first call queued")
        second_id = post_call(intake, CRISIS, CAPITOL_HILL, "b")
        second = ledger(intake, second_id, status_is("queued"), "the second call queued")
        route = Route(first["route"])
        chain = DEFAULT_FALLBACKS[route]
        assert len(chain) > 1, f"triage sent a clear crisis call to {route}, which has no fallback to test"
        assert second["route"] == route  # same words, same route

        # Only a unit of the route's fallback type exists: it takes the more urgent, older call.
        register(routing, "FALLBACK-1", chain[1], BALLARD)
        served, waiting = sorted([first, second], key=dispatch_order)
        served = ledger(intake, served["call_id"], status_is("assigned"), "the fallback unit assigned")
        assert (served["assigned_unit"]["unit_id"], served["assigned_unit"]["type"]) == (
            "FALLBACK-1",
            chain[1],
        )
        assert (
            routing.get(f"/v1/calls/{waiting['call_id']}", headers=auth("console")).json()["status"]
            == "queued"
        )
        on_record = routing.get(f"/v1/calls/{served['call_id']}", headers=auth("console")).json()
        assert on_record["fallback_used"] is True and on_record["distance_km"] > 0

        # The unit reports its way to resolution; bad reports are refused without effect.
        assert step(routing, served["call_id"], "en_route").status_code == 200
        assert step(routing, served["call_id"], "on_scene").status_code == 200
        refused = step(routing, served["call_id"], "en_route")
        assert refused.status_code == 409 and refused.json()["allowed"] == ["resolved"]
        assert step(routing, served["call_id"], "resolved").status_code == 422  # no disposition
        resolved = step(
            routing, served["call_id"], "resolved", disposition="referred_to_services", use_of_force=False
        )
        assert resolved.status_code == 200, resolved.text

        # The freed unit takes the call that was waiting.
        taken = ledger(
            intake, waiting["call_id"], status_is("assigned"), "the freed unit taking the queued call"
        )
        assert taken["assigned_unit"]["unit_id"] == "FALLBACK-1"

        closed = ledger(intake, served["call_id"], status_is("resolved"), "the resolution")
        assert [s["status"] for s in closed["timeline"]] == [
            "received",
            "triaged",
            "queued",
            "assigned",
            "en_route",
            "on_scene",
            "resolved",
        ]
        assert closed["disposition"] == "referred_to_services"
        assert closed["assigned_unit"]["unit_id"] == "FALLBACK-1"

        # A call arriving while units are free goes straight to the nearest one that may serve it.
        register(routing, "P-NEAR", UnitType.POLICE, PIKE_PLACE)
        register(routing, "P-FAR", UnitType.POLICE, BALLARD)
        violent_id = post_call(intake, VIOLENCE, THIRD_AND_PINE, "c")
        violent = ledger(
            intake, violent_id, lambda r: r["status"] in ("assigned", "queued"), "the violent call routed"
        )
        if UnitType.POLICE in DEFAULT_FALLBACKS[Route(violent["route"])]:
            assert violent["assigned_unit"]["unit_id"] == "P-NEAR"
        else:
            assert violent["status"] == "queued"

        # Insights count the resolved call under its route.
        window = {"since": (datetime.fromisoformat(first["received_at"]) - timedelta(minutes=5)).isoformat()}
        outcomes = routing.get("/v1/insights/outcomes", params=window, headers=auth("ops")).json()
        mine = outcomes["routes"][route.value]
        assert mine["resolved"] == 1 and mine["dispositions"]["referred_to_services"] == 1
        assert mine["referral_rate"] == 1 and mine["fallback_used"] == 2

    # What Kafka carried: routed events for each step, the fallback among them.
    routed = [
        decode(r.headers, r.value).event for r in await collect(stack.namespace + Topic.CALLS_ROUTED, count=5)
    ]
    assert all(isinstance(event, CallRouted) for event in routed)
    assignment = next(e for e in routed if str(e.call_id) == served["call_id"] and e.status == "assigned")  # type: ignore[attr-defined]
    assert assignment.fallback_used is True and assignment.unit.unit_id == "FALLBACK-1"  # type: ignore[attr-defined]

    # The console stream replays the same story in order, with ids to resume from.
    events = read_stream(
        stack["routing"].url,
        until=lambda evs: (
            any(kind == "call.status" and e["status"] == "resolved" for _, kind, e in evs)
            and any(
                kind == "call.routed" and e["call_id"] == waiting["call_id"] and e["status"] == "assigned"
                for _, kind, e in evs
            )
        ),
    )
    ids = [event_id for event_id, _, _ in events]
    assert ids == sorted(ids) and len(set(ids)) == len(ids)
    assert {kind for _, kind, _ in events} == {"call.routed", "call.status", "unit.status"}

    assert CRISIS not in stack.logs() and VIOLENCE not in stack.logs()  # narratives never reach the logs
