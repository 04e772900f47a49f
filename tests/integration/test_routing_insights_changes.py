"""The outcomes report counts what changed calls after triage: a dispatcher's override, backup from the
field and escalations by a later revision, all made through routing's real API and consumer."""

from datetime import timedelta
from typing import Any
from uuid import UUID, uuid4

import pytest
from dispatch_shared.db import make_engine
from dispatch_shared.events import OverrideReason, Route, ThreatLevel
from routing import calls
from sqlmodel import Session

from tests.factories import T0
from tests.integration.test_routing_retriage import BALLARD, PIKE_PLACE, Routing, triaged, unit
from tests.integration.test_routing_retriage import routing as routing  # noqa: F401 - the fixture
from tests.stack import auth

pytestmark = pytest.mark.integration

WINDOW = {"since": (T0 - timedelta(hours=1)).isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()}


def routed_call(routing: Routing, route: Route) -> UUID:
    call_id = uuid4()
    routing.publish(triaged(call_id, 1, route))
    routing.wait_for(call_id, lambda call: call["status"] == "assigned")
    return call_id


def revise(routing: Routing, call_id: UUID, route: Route, threat: ThreatLevel) -> dict[str, Any]:
    routing.publish(triaged(call_id, 2, route, threat))
    return routing.wait_for(call_id, lambda call: call["revision"] == 2)


def test_outcomes_count_overrides_backups_and_escalations(routing: Routing, database_url: str) -> None:
    routing.add_units(
        unit("CO-1", "co_response", PIKE_PLACE),
        unit("P-1", "police", BALLARD),
        unit("CL-1", "clinician", PIKE_PLACE),
        unit("CL-2", "clinician", BALLARD),
    )
    # A dispatcher overrides the system's co_response to police.
    overridden = routed_call(routing, Route.CO_RESPONSE)
    response = routing.client.post(
        f"/v1/calls/{overridden}/override",
        json={"route": "police", "unit_id": "P-1", "reason": "officer_safety"},
        headers=auth("console"),
    )
    assert response.status_code == 200, response.text

    # The clinician on scene asks for police twice: one comes when freed, the second is still awaited.
    backed_up = routed_call(routing, Route.CLINICIAN_ONLY)
    routing.step(backed_up, "on_scene")
    assert (
        routing.step(backed_up, "backup_requested", reason="patient escalating")["awaiting_route"] == "police"
    )
    routing.add_units(unit("P-2", "police", BALLARD))
    routing.wait_for(backed_up, lambda call: len(call["units"]) == 2)

    # A revision escalates a clinician call to co_response: the co-response team is added.
    escalated = routed_call(routing, Route.CLINICIAN_ONLY)
    assert len(revise(routing, escalated, Route.CO_RESPONSE, ThreatLevel.ELEVATED)["units"]) == 2

    # A co_response call served by a police officer (no team free) escalates to police: no unit added.
    routing.add_units(unit("P-3", "police", BALLARD))
    moved = routed_call(routing, Route.CO_RESPONSE)
    after = revise(routing, moved, Route.POLICE, ThreatLevel.HIGH)
    assert after["route"] == "police" and len(after["units"]) == 1

    # A revision that changes nothing is no escalation.
    routing.add_units(unit("P-4", "police", BALLARD))
    unchanged = routed_call(routing, Route.POLICE)
    revise(routing, unchanged, Route.POLICE, ThreatLevel.NONE)

    routing.step(backed_up, "backup_requested", reason="second subject")  # no police free: awaited

    response = routing.client.get("/v1/insights/outcomes", params=WINDOW, headers=auth("ops"))
    assert response.status_code == 200, response.text
    report = response.json()
    clinician, co_response, police = (
        report["routes"][r] for r in ("clinician_only", "co_response", "police")
    )

    # Per route now: the overridden, moved and unchanged calls are police calls.
    assert [route["calls"] for route in (clinician, co_response, police)] == [1, 1, 3]
    assert (clinician["backup_requests"], clinician["backup_requests_per_100_calls"]) == (1, 100.0)
    assert co_response["backup_requests"] == police["backup_requests"] == 0
    assert [route["re_triage_escalations"] for route in (clinician, co_response, police)] == [0, 1, 1]
    # Overrides under the system's route: co_response, though the call is a police call now.
    assert [route["overrides"] for route in (clinician, co_response, police)] == [0, 1, 0]
    assert co_response["overrides_by_reason"] == {reason.value: 0 for reason in OverrideReason} | {
        "officer_safety": 1
    }
    assert report["overrides_by_route_change"] == [
        {"system_route": "co_response", "final_route": "police", "calls": 1}
    ]

    # The records behind the figures, read straight from the tables.
    engine = make_engine(database_url)
    try:
        with Session(engine) as session:
            records = calls.outcome_records(
                session, since=T0 - timedelta(hours=1), until=T0 + timedelta(hours=1)
            )
    finally:
        engine.dispose()  # the database is dropped after the test
    changes = sorted(
        (
            record.route.value,
            record.changes.units_added_by_escalation,
            record.changes.escalation_recorded,
            record.changes.units_added_as_backup,
            record.changes.backup_awaited,
            len(record.changes.overrides),
        )
        for record in records
    )
    assert changes == [
        ("clinician_only", 0, False, 1, True, 0),
        ("co_response", 1, True, 0, False, 0),
        ("police", 0, False, 0, False, 0),
        ("police", 0, False, 0, False, 1),
        ("police", 0, True, 0, False, 0),
    ]
