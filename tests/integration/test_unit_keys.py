"""Unit keys bound to one unit (``unit@<unit_id>:key``) through routing's HTTP API on a real database:
a bound key reports for its own unit and the calls that unit is on, and is refused (403) for any
other; unbound unit keys and console keys report as before."""

from collections.abc import Iterator
from typing import Any
from uuid import uuid4

import pytest
from dispatch_shared.db import transaction
from dispatch_shared.events import CallTriaged, Location, Route
from fastapi.testclient import TestClient
from routing import dispatch
from routing.app import RoutingSettings, create_app

from tests.factories import T0, decision
from tests.stack import API_KEYS, auth, runtime_of

pytestmark = pytest.mark.integration

PIKE_PLACE: dict[str, Any] = {"lat": 47.6097, "lon": -122.3422}
BALLARD: dict[str, Any] = {"lat": 47.6687, "lon": -122.3847}

# One key per unit, beside the unbound keys of every role the other tests use.
BOUND_KEYS = {unit_id: f"bound-{unit_id}-key-0123456789abcdef" for unit_id in ("CL-1", "P-1", "P-2")}


def as_unit(unit_id: str) -> dict[str, str]:
    """Headers that authenticate with the key bound to ``unit_id``."""
    return {"Authorization": f"Bearer {BOUND_KEYS[unit_id]}"}


@pytest.fixture
def client(database_url: str, namespace: str, kafka_bootstrap: str) -> Iterator[TestClient]:
    bound = ",".join(f"unit@{unit_id}:{key}" for unit_id, key in BOUND_KEYS.items())
    app = create_app(
        RoutingSettings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_namespace=namespace,
            api_keys=f"{API_KEYS},{bound}",
            outbox_poll_seconds=0.1,
        )
    )
    with TestClient(app) as client:
        response = client.post(
            "/v1/units",
            json=[
                {"unit_id": "CL-1", "type": "clinician", "name": "Clinician 1", **PIKE_PLACE},
                {"unit_id": "P-1", "type": "police", "name": "Police 1", **BALLARD},
                {"unit_id": "P-2", "type": "police", "name": "Police 2", **BALLARD},
            ],
            headers=auth("ops"),
        )
        assert response.status_code == 200, response.text
        yield client


def clinician_call(client: TestClient) -> str:
    """A clinician-only call routed as the consumer would route it (CL-1 takes it); returns its id."""
    runtime = runtime_of(client)
    event = CallTriaged(
        call_id=uuid4(),
        decision=decision(route=Route.CLINICIAN_ONLY),
        location=Location(**PIKE_PLACE),
        received_at=T0,
        triaged_at=T0,
    )
    with transaction(runtime.engine) as session:
        call = dispatch.route_call(
            session,
            event=event,
            chains=client.app.state.fallbacks,  # type: ignore[attr-defined]
            outbox=runtime.outbox,
        )
        assert call.unit_id == "CL-1"
    return str(event.call_id)


def report(client: TestClient, call_id: str, headers: dict[str, str], status: str, **fields: Any) -> Any:
    return client.post(f"/v1/calls/{call_id}/status", json={"status": status, **fields}, headers=headers)


def call_status(client: TestClient, call_id: str) -> str:
    response = client.get(f"/v1/calls/{call_id}", headers=auth("console"))
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def unit_status(client: TestClient, unit_id: str) -> str:
    response = client.get(f"/v1/units/{unit_id}", headers=auth("console"))
    assert response.status_code == 200, response.text
    return str(response.json()["status"])


def test_a_bound_key_reports_steps_on_its_own_call_only(client: TestClient) -> None:
    call_id = clinician_call(client)

    other = report(client, call_id, as_unit("P-1"), "en_route")
    assert other.status_code == 403
    assert other.json() == {"detail": f"this key is bound to unit P-1, which is not on call {call_id}"}
    assert call_status(client, call_id) == "assigned"  # nothing of the refused step applied

    own = report(client, call_id, as_unit("CL-1"), "en_route")
    assert own.status_code == 200, own.text
    assert own.json()["status"] == "en_route"
    unbound = report(client, call_id, auth("unit"), "on_scene")  # any unbound unit key, as before
    assert unbound.status_code == 200, unbound.text
    assert call_status(client, call_id) == "on_scene"


def test_a_bound_key_asks_backup_only_for_its_own_call_and_an_added_unit_may_report(
    client: TestClient,
) -> None:
    call_id = clinician_call(client)

    refused = report(client, call_id, as_unit("P-1"), "backup_requested", reason="crowd gathering")
    assert refused.status_code == 403 and "P-1" in refused.json()["detail"]
    assert unit_status(client, "P-1") == "available"  # no backup was sent

    backup = report(client, call_id, as_unit("CL-1"), "backup_requested", reason="patient escalating")
    assert backup.status_code == 200, backup.text
    added = [unit["unit_id"] for unit in backup.json()["units"] if unit["role"] == "added"]
    assert len(added) == 1 and added[0] in {"P-1", "P-2"}
    [idle] = {"P-1", "P-2"} - set(added)

    # The unit added as backup is on the call now; the one left at the station is not.
    assert report(client, call_id, as_unit(idle), "on_scene").status_code == 403
    arrived = report(client, call_id, as_unit(added[0]), "on_scene")
    assert arrived.status_code == 200, arrived.text
    # A dispatcher relaying a unit's radio keeps asking for any call.
    relayed = report(client, call_id, auth("console"), "backup_requested", reason="second subject")
    assert relayed.status_code == 200, relayed.text
    assert sorted(unit["unit_id"] for unit in relayed.json()["units"]) == ["CL-1", "P-1", "P-2"]


def test_a_bound_key_sets_only_its_own_unit_status(client: TestClient) -> None:
    def put(unit_id: str, headers: dict[str, str], status: str) -> Any:
        return client.put(f"/v1/units/{unit_id}/status", json={"status": status}, headers=headers)

    other = put("P-1", as_unit("CL-1"), "out_of_service")
    assert other.status_code == 403
    assert other.json() == {"detail": "this key is bound to unit CL-1 and cannot report for unit P-1"}
    assert unit_status(client, "P-1") == "available"

    own = put("CL-1", as_unit("CL-1"), "out_of_service")
    assert own.status_code == 200 and own.json()["status"] == "out_of_service"
    assert put("P-1", auth("unit"), "out_of_service").status_code == 200  # unbound: any unit
    assert unit_status(client, "P-1") == "out_of_service"
    assert put("P-1", auth("ops"), "available").status_code == 200


def test_a_bound_key_gets_404_for_a_call_routing_does_not_have(client: TestClient) -> None:
    missing = report(client, str(uuid4()), as_unit("CL-1"), "en_route")
    assert missing.status_code == 404
