"""A call posted to intake over HTTP is triaged, routed and shown in the ledger."""

import time
from typing import Any

import httpx
import pytest
from dispatch_shared.cloudevents import decode
from dispatch_shared.events import CallRouted, Topic

from tests.e2e.conftest import Stack
from tests.factories import submission
from tests.stack import auth, collect

pytestmark = pytest.mark.e2e


def wait_for_ledger(client: httpx.Client, call_id: str, field: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
        if record.get(field):
            return record
        time.sleep(0.2)
    raise AssertionError(f"ledger never showed {field}: {record}")


async def test_a_posted_call_is_routed_and_shows_in_the_ledger(stack: Stack) -> None:
    narrative = "Caller says her brother is hearing voices and is scared, no weapons."
    with httpx.Client(base_url=stack["intake"].url, timeout=10) as client:
        posted = client.post("/v1/calls", json=submission(narrative=narrative), headers=auth("cad"))
        assert posted.status_code == 202, posted.text
        call_id = posted.json()["call_id"]

        record = wait_for_ledger(client, call_id, "route")

    assert record["route"] in {"clinician_only", "co_response", "police"}
    assert [step["status"] for step in record["timeline"]][:2] == ["received", "triaged"]
    routed = await collect(stack.namespace + Topic.CALLS_ROUTED, count=1)
    envelope = decode(routed[0].headers, routed[0].value)
    assert isinstance(envelope.event, CallRouted)
    assert str(envelope.event.call_id) == call_id
    assert routed[0].key == call_id.encode()
    assert envelope.source == "/dispatch/routing"
    assert narrative not in stack.logs()  # narratives never reach the logs


async def test_reposting_the_same_incident_returns_the_same_call(stack: Stack) -> None:
    payload = submission()
    with httpx.Client(base_url=stack["intake"].url, timeout=10) as client:
        first = client.post("/v1/calls", json=payload, headers=auth("cad"))
        second = client.post("/v1/calls", json=payload, headers=auth("cad"))
        listed = client.get(
            "/v1/calls", params={"cad_incident_id": payload["cad_incident_id"]}, headers=auth("console")
        ).json()
    assert (first.status_code, second.status_code) == (202, 200)
    assert first.json()["call_id"] == second.json()["call_id"]
    assert listed["total"] == 1
