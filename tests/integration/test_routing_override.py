"""Dispatcher overrides and backup from the field, end to end through routing: CallTriaged in over the
real broker, overrides and backup requests over HTTP, CallRouted read back from the broker."""

import threading
from typing import Any
from uuid import UUID, uuid4

import pytest
from dispatch_shared.events import Route, ThreatLevel

from tests.integration.test_routing_retriage import (
    BALLARD,
    CAPITOL_HILL,
    PIKE_PLACE,
    Routing,
    of_call,
    triaged,
    unit,
    unit_ids,
)
from tests.integration.test_routing_retriage import routing as routing  # noqa: F401 - the fixture
from tests.stack import auth

pytestmark = pytest.mark.integration


def override(routing: Routing, call_id: UUID, **body: Any) -> Any:
    return routing.client.post(f"/v1/calls/{call_id}/override", json=body, headers=auth("console"))


def assigned_call(routing: Routing, route: Route = Route.CLINICIAN_ONLY) -> UUID:
    call_id = uuid4()
    routing.publish(triaged(call_id, 1, route))
    routing.wait_for(call_id, lambda call: call["status"] == "assigned")
    return call_id


def test_override_re_routes_with_a_reason_and_keeps_the_system_decision(routing: Routing) -> None:
    routing.add_units(unit("CO-1", "co_response", PIKE_PLACE), unit("P-1", "police", BALLARD))
    call_id = assigned_call(routing, Route.CO_RESPONSE)

    response = override(
        routing, call_id, route="police", unit_id="P-1", reason="caller_history", notes="known to carry"
    )

    assert response.status_code == 200, response.text
    call = response.json()
    assert (call["route"], call["unit"]["unit_id"]) == ("police", "P-1")
    assert call["decision"]["route"] == "co_response"  # the system's decision stays on the record
    [record] = call["overrides"]
    assert (record["reason"], record["from_route"], record["to_route"]) == (
        "caller_history",
        "co_response",
        "police",
    )
    assert (record["from_unit_id"], record["to_unit_id"], record["by"]) == ("CO-1", "P-1", "console")
    assert routing.unit("CO-1")["status"] == "available"  # the previous primary is freed
    routed = of_call(routing.routed(lambda events: len(of_call(events, call_id)) >= 2), call_id)
    last = routed[-1]
    assert (last.reason, last.override_reason, last.route) == ("override", "caller_history", Route.POLICE)
    assert last.unit is not None and last.unit.unit_id == "P-1"


def test_override_without_a_reason_or_change_is_refused_naming_the_field(routing: Routing) -> None:
    routing.add_units(unit("CL-1", "clinician", PIKE_PLACE))
    call_id = assigned_call(routing)
    for body in ({"route": "police"}, {"route": "police", "reason": "hunch"}):
        response = override(routing, call_id, **body)
        assert response.status_code == 422
        assert ["body", "reason"] in [error["loc"] for error in response.json()["detail"]]
    assert override(routing, call_id, reason="other").status_code == 422  # nothing to change
    assert routing.call(call_id)["overrides"] == []  # type: ignore[index]


def test_busy_and_wrong_type_units_are_refused(routing: Routing) -> None:
    routing.add_units(
        unit("CL-1", "clinician", PIKE_PLACE),
        unit("CL-2", "clinician", BALLARD),
        unit("P-1", "police", BALLARD),
    )
    first, second = assigned_call(routing), assigned_call(routing)
    holder = routing.call(first)["unit"]["unit_id"]  # type: ignore[index]

    busy = override(routing, second, unit_id=holder, reason="dispatcher_judgment")
    assert busy.status_code == 409, busy.text
    wrong = override(routing, second, unit_id="P-1", reason="dispatcher_judgment")
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["loc"] == ["body", "unit_id"]
    assert routing.unit("P-1")["status"] == "available"
    assert override(routing, uuid4(), route="police", reason="other").status_code == 404


def test_concurrent_overrides_one_wins_the_other_gets_409(routing: Routing) -> None:
    routing.add_units(
        unit("CO-1", "co_response", PIKE_PLACE),
        unit("CO-2", "co_response", BALLARD),
        unit("CO-3", "co_response", CAPITOL_HILL),
    )
    call_id = assigned_call(routing, Route.CO_RESPONSE)
    seen = routing.call(call_id)["version"]  # type: ignore[index]
    barrier = threading.Barrier(2)
    codes: dict[str, int] = {}

    def dispatcher(unit_id: str) -> None:
        barrier.wait()
        response = override(routing, call_id, unit_id=unit_id, reason="dispatcher_judgment", version=seen)
        codes[unit_id] = response.status_code

    threads = [threading.Thread(target=dispatcher, args=(u,)) for u in ("CO-2", "CO-3")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(codes.values()) == [200, 409], codes
    winner = next(u for u, code in codes.items() if code == 200)
    loser = next(u for u, code in codes.items() if code == 409)
    call = routing.call(call_id)
    assert call is not None and call["unit"]["unit_id"] == winner and len(call["overrides"]) == 1
    assert routing.unit(loser)["status"] == "available"  # nothing of the losing override applied


def test_backup_adds_a_police_unit_and_keeps_the_first(routing: Routing) -> None:
    routing.add_units(unit("CL-1", "clinician", PIKE_PLACE))
    call_id = assigned_call(routing)
    routing.step(call_id, "on_scene")

    waiting = routing.step(call_id, "backup_requested", reason="patient escalating")
    assert waiting["awaiting_route"] == "police" and unit_ids(waiting) == [("CL-1", "primary")]
    routing.add_units(unit("P-1", "police", BALLARD), unit("P-2", "police", CAPITOL_HILL))
    call = routing.wait_for(call_id, lambda call: len(call["units"]) == 2)
    assert call["units"][1]["backup_reason"] == "patient escalating"

    call = routing.step(call_id, "backup_requested", reason="second subject")
    assert unit_ids(call) == [("CL-1", "primary"), ("P-1", "added"), ("P-2", "added")]
    assert call["status"] == "on_scene" and call["unit"]["unit_id"] == "CL-1"
    routed = of_call(routing.routed(lambda events: len(of_call(events, call_id)) >= 4), call_id)
    assert [e.reason for e in routed] == ["triaged", "backup", "backup", "backup"]
    assert [e.unit.unit_id if e.unit else None for e in routed] == ["CL-1", None, "P-1", "P-2"]


def test_a_later_revision_does_not_undo_an_override_unless_it_reads_more(routing: Routing) -> None:
    routing.add_units(
        unit("CL-1", "clinician", PIKE_PLACE),
        unit("CO-1", "co_response", BALLARD),
        unit("P-1", "police", CAPITOL_HILL),
    )
    call_id = assigned_call(routing)
    routing.publish(triaged(call_id, 2, Route.CO_RESPONSE, ThreatLevel.ELEVATED, priority=2))
    routing.wait_for(call_id, lambda call: call["revision"] == 2 and len(call["units"]) == 2)
    back = override(routing, call_id, route="clinician_only", reason="clinician_request")
    assert back.status_code == 200, back.text

    # A note that changes nothing: triage still reads co_response from the first words.
    sentinel = uuid4()
    routing.publish(
        triaged(call_id, 3, Route.CO_RESPONSE, ThreatLevel.ELEVATED, priority=2),
        triaged(sentinel, 1, Route.POLICE),
        key=call_id,
    )
    call = routing.wait_for(call_id, lambda call: call["revision"] == 3)
    assert (call["route"], call["suggested_route"]) == ("clinician_only", "co_response")
    assert [u["unit_id"] for u in call["units"] if u["released_at"] is None] == ["CL-1"]
    assert routing.unit("CO-1")["status"] == "available"  # not sent back by the revision
    routed = routing.routed(lambda events: bool(of_call(events, sentinel)))
    assert [(e.reason, e.revision) for e in of_call(routed, call_id)] == [
        ("triaged", 1),
        ("re_triaged", 2),
        ("override", 2),
    ]

    # A reading past what the dispatcher overruled (a higher threat) escalates at once.
    routing.publish(triaged(call_id, 4, Route.CO_RESPONSE, ThreatLevel.HIGH, priority=1))
    call = routing.wait_for(call_id, lambda call: call["revision"] == 4)
    assert (call["route"], call["threat_level"], call["suggested_route"]) == ("co_response", "high", None)
    on_call = [u["unit_id"] for u in call["units"] if u["released_at"] is None]
    assert on_call == ["CL-1", "CO-1"]
    # The system routes the call again: a police reading sends police.
    routing.publish(triaged(call_id, 5, Route.POLICE, ThreatLevel.HIGH, priority=1))
    routing.add_units(unit("P-2", "police", BALLARD))  # P-1 went to the sentinel call
    call = routing.wait_for(call_id, lambda call: call["revision"] == 5)
    assert call["route"] == "police" and routing.unit("P-2")["current_call_id"] == str(call_id)


def test_an_override_frees_the_units_its_route_no_longer_needs_and_keeps_backup(routing: Routing) -> None:
    routing.add_units(
        unit("CL-1", "clinician", PIKE_PLACE),
        unit("CO-1", "co_response", BALLARD),
        unit("P-1", "police", CAPITOL_HILL),
    )
    call_id = assigned_call(routing)
    routing.publish(triaged(call_id, 2, Route.CO_RESPONSE, ThreatLevel.ELEVATED, priority=2))
    routing.wait_for(call_id, lambda call: len(call["units"]) == 2)
    routing.step(call_id, "backup_requested", reason="crowd gathering")  # the field asks for police
    assert unit_ids(routing.call(call_id)) == [  # type: ignore[arg-type]
        ("CL-1", "primary"),
        ("CO-1", "added"),
        ("P-1", "added"),
    ]

    back = override(routing, call_id, route="clinician_only", reason="clinician_request")

    assert back.status_code == 200, back.text
    call = back.json()
    [record] = call["overrides"]
    assert record["released_unit_ids"] == ["CO-1"]  # the escalation's team; the backup stays
    released = {u["unit_id"]: u["released_at"] is not None for u in call["units"]}
    assert released == {"CL-1": False, "CO-1": True, "P-1": False}
    freed = routing.unit("CO-1")
    assert (freed["status"], freed["current_call_id"]) == ("available", None)
    assert routing.unit("P-1")["current_call_id"] == str(call_id)
    # The freed team is free for the next call that needs it.
    other = assigned_call(routing, Route.CO_RESPONSE)
    assert routing.call(other)["unit"]["unit_id"] == "CO-1"  # type: ignore[index]
