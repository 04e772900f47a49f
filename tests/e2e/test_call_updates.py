"""A call that turns dangerous after it was triaged is triaged again, and the ledger shows both.

Runs the three services as real processes on the real broker: a supplemental note posted to
intake becomes ``CallUpdated`` revision 2, triage decides the whole call text again and publishes
``CallTriaged`` revision 2, routing escalates at once (adds a co-response or police unit beside
the clinician team already on the call), and intake's ledger shows every step in order.
"""

import time
from typing import Any

import httpx
import pytest
from dispatch_shared.cloudevents import decode
from dispatch_shared.events import CallTriaged, Route, ThreatLevel, Topic

from tests.e2e.conftest import Stack
from tests.factories import submission
from tests.stack import auth, collect

pytestmark = pytest.mark.e2e

FIRST = "Man talking to himself outside the library"
NOTE = "now he has a knife and is waving it at people"
THREAT_ORDER = [ThreatLevel.NONE, ThreatLevel.ELEVATED, ThreatLevel.HIGH, ThreatLevel.IMMINENT]


def ledger_until(
    client: httpx.Client, call_id: str, until: Any, what: str, timeout: float = 30
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
        if until(record):
            return record
        time.sleep(0.2)
    raise AssertionError(f"ledger never showed {what}: {record}")


def triaged_revisions(record: dict[str, Any]) -> list[int]:
    return [step["revision"] for step in record["timeline"] if step["step"] == "triaged"]


WHERE = {"lat": 47.6097, "lon": -122.3422}
UNITS = [
    {"unit_id": f"{kind}-E2E", "type": kind, "name": f"{kind} e2e", **WHERE}
    for kind in ("clinician", "co_response", "police")
]


async def test_a_note_that_raises_the_threat_is_triaged_again(stack: Stack) -> None:
    registered = httpx.post(f"{stack['routing'].url}/v1/units", json=UNITS, headers=auth("ops"), timeout=10)
    assert registered.status_code == 200, registered.text
    with httpx.Client(base_url=stack["intake"].url, timeout=10) as client:
        posted = client.post(
            "/v1/calls", json=submission(narrative=FIRST, location=WHERE), headers=auth("cad")
        )
        assert posted.status_code == 202, posted.text
        call_id = posted.json()["call_id"]
        first = ledger_until(client, call_id, lambda r: triaged_revisions(r) == [1], "revision 1 triaged")
        assert first["route"] == Route.CLINICIAN_ONLY and first["threat_level"] == ThreatLevel.NONE

        noted = client.post(f"/v1/calls/{call_id}/notes", json={"text": NOTE}, headers=auth("cad"))
        assert noted.status_code == 202, noted.text
        assert noted.json()["revision"] == 2

        record = ledger_until(client, call_id, lambda r: triaged_revisions(r) == [1, 2], "revision 2 triaged")
        record = ledger_until(
            client,
            call_id,
            lambda r: any(s.get("reason") == "re_triaged" for s in r["timeline"]),
            "routing's re-routing of revision 2",
        )
    # The clinician team stays the call's unit; the escalation adds the unit the new route needs.
    assert record["assigned_unit"]["type"] == "clinician"
    rerouted = [s for s in record["timeline"] if s.get("reason") == "re_triaged"]
    assert len(rerouted) == 1 and rerouted[0]["revision"] == 2
    assert rerouted[0]["route"] in {Route.CO_RESPONSE, Route.POLICE}
    assert rerouted[0]["unit"]["type"] in {"co_response", "police"}
    assert record["route"] == rerouted[0]["route"]
    routing_url = f"{stack['routing'].url}/v1/calls/{call_id}"
    routing_view = httpx.get(routing_url, headers=auth("console"), timeout=10)
    assert sorted(u["type"] for u in routing_view.json()["units"]) == sorted(
        ["clinician", rerouted[0]["unit"]["type"]]
    )

    records = await collect(stack.namespace + Topic.CALLS_TRIAGED, count=2)
    decisions = {}
    for message in records:
        event = decode(message.headers, message.value).event
        assert isinstance(event, CallTriaged) and str(event.call_id) == call_id
        decisions[event.revision] = event.decision
    assert set(decisions) == {1, 2}
    assert decisions[1].route == Route.CLINICIAN_ONLY
    assert decisions[2].route in {Route.CO_RESPONSE, Route.POLICE}
    assert THREAT_ORDER.index(decisions[2].threat_level) > THREAT_ORDER.index(decisions[1].threat_level)

    # Routing's own steps (queued, assigned) may fall anywhere between; they are not the point here.
    steps = [
        (step["step"], step.get("revision"))
        for step in record["timeline"]
        if step["step"] in {"received", "triaged", "note", "updated"}
    ]
    assert steps == [("received", None), ("triaged", 1), ("note", 2), ("triaged", 2)]
    assert record["threat_level"] == decisions[2].threat_level  # the ledger follows the newest revision
    assert record["revision"] == 2
    assert NOTE not in stack.logs() and FIRST not in stack.logs()  # call text never reaches the logs
