"""The override and backup decisions: what a dispatcher or a unit may change on a call."""

import pytest
from dispatch_shared.events import CallStatus, Route, UnitStatus, UnitType
from routing.assignment import DEFAULT_FALLBACKS
from routing.override import (
    BackupNotPossible,
    CallClosed,
    OverrideState,
    StaleOverride,
    UnitBusy,
    UnitCannotServe,
    backup_route,
    decide_override,
)

ASSIGNED_CLINICIAN = OverrideState(
    call_status=CallStatus.ASSIGNED,
    route=Route.CLINICIAN_ONLY,
    version=3,
    primary_unit_id="CL-1",
    primary_type=UnitType.CLINICIAN,
)


def named(
    unit_type: UnitType, status: UnitStatus = UnitStatus.AVAILABLE, on: str | None = None
) -> OverrideState:
    return OverrideState(
        **{
            **ASSIGNED_CLINICIAN.__dict__,
            "unit_id": "U-9",
            "unit_type": unit_type,
            "unit_status": status,
            "unit_call_id": on,
        }
    )


def decide(state: OverrideState, route: Route | None = None, version: int = 3):  # type: ignore[no-untyped-def]
    return decide_override(state, route=route, expected_version=version, chains=DEFAULT_FALLBACKS)


def test_a_free_unit_of_the_new_route_becomes_the_primary() -> None:
    plan = decide(named(UnitType.POLICE), route=Route.POLICE)
    assert (plan.route, plan.reassign) == (Route.POLICE, True)


def test_a_route_change_the_primary_still_serves_keeps_it() -> None:
    plan = decide(ASSIGNED_CLINICIAN, route=Route.CLINICIAN_ONLY)
    assert (plan.route, plan.reassign) == (Route.CLINICIAN_ONLY, False)
    co_response = OverrideState(**{**ASSIGNED_CLINICIAN.__dict__, "primary_type": UnitType.CO_RESPONSE})
    assert decide(co_response, route=Route.CO_RESPONSE).reassign is False


@pytest.mark.parametrize("status", [UnitStatus.DISPATCHED, UnitStatus.ON_SCENE, UnitStatus.OUT_OF_SERVICE])
def test_a_unit_not_free_is_refused(status: UnitStatus) -> None:
    with pytest.raises(UnitBusy):
        decide(named(UnitType.CLINICIAN, status, on="other-call"))


def test_a_unit_the_route_cannot_use_is_refused() -> None:
    with pytest.raises(UnitCannotServe):
        decide(named(UnitType.POLICE))  # clinician_only's chain has no police
    with pytest.raises(UnitCannotServe):
        decide(ASSIGNED_CLINICIAN, route=Route.POLICE)  # the clinician kept cannot serve police


def test_a_closed_or_changed_call_is_refused() -> None:
    closed = OverrideState(**{**ASSIGNED_CLINICIAN.__dict__, "call_status": CallStatus.RESOLVED})
    with pytest.raises(CallClosed):
        decide(closed, route=Route.CO_RESPONSE)
    with pytest.raises(StaleOverride):
        decide(ASSIGNED_CLINICIAN, route=Route.CO_RESPONSE, version=2)


def test_a_queued_call_may_take_any_route() -> None:
    queued = OverrideState(call_status=CallStatus.QUEUED, route=Route.CLINICIAN_ONLY, version=0)
    assert decide(queued, route=Route.POLICE, version=0).route is Route.POLICE


def test_backup_ranks_by_the_route_that_starts_with_its_type() -> None:
    assert backup_route(UnitType.POLICE, CallStatus.ON_SCENE, has_unit=True) is Route.POLICE
    assert backup_route(UnitType.CLINICIAN, CallStatus.ASSIGNED, has_unit=True) is Route.CLINICIAN_ONLY
    for status, has_unit in ((CallStatus.QUEUED, False), (CallStatus.CANCELLED, True)):
        with pytest.raises(BackupNotPossible):
            backup_route(UnitType.POLICE, status, has_unit=has_unit)
