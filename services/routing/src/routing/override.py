"""What a dispatcher's override and a unit's call for backup may do to a call: plain functions, no I/O.

An override is a dispatcher overruling the system: a new route for the call, a named unit as its
primary, or both, always with a reason from ``OverrideReason``. The system's own decision stays on
the call beside it. Checks, in order (the first that fails is the answer):

* the call is open (a closed call cannot be overridden: ``CallClosed``);
* the dispatcher saw the call as it is now (``version``; otherwise ``StaleOverride``);
* a named unit is free, or is already the call's primary (``UnitBusy``);
* the named unit's type is in the fallback chain of the route in force after the override, and a
  primary kept on a re-routed call still serves the new route (``UnitCannotServe``).

A backup request from the field adds a unit of one type beside those on the call. The route whose
fallback chain begins with that type ranks the candidates; the call must have a unit already.
"""

from __future__ import annotations

from dataclasses import dataclass

from dispatch_shared.errors import Conflict
from dispatch_shared.events import CallStatus, Route, UnitStatus, UnitType

from routing.assignment import FallbackChains
from routing.lifecycle import CLOSED

__all__ = [
    "BackupNotPossible",
    "CallClosed",
    "OverrideRefused",
    "OverridePlan",
    "OverrideState",
    "StaleOverride",
    "UnitBusy",
    "UnitCannotServe",
    "backup_route",
    "decide_override",
]


class OverrideRefused(Conflict):
    """The override cannot apply (409); the subclasses say why."""


class CallClosed(OverrideRefused):
    """The call is resolved or cancelled."""


class StaleOverride(OverrideRefused):
    """The call changed since the dispatcher read it (another override, a step, a revision)."""


class UnitBusy(OverrideRefused):
    """The named unit is on another call or out of service."""


class UnitCannotServe(OverrideRefused):
    """The unit's type is not in the route's fallback chain (the route answers 422 on the unit)."""


class BackupNotPossible(Conflict):
    """Backup is asked for a call that is closed or has no unit on it yet (409)."""


@dataclass(frozen=True)
class OverrideState:
    """The call and, when one is named, the unit, as the override reads them."""

    call_status: CallStatus
    route: Route
    version: int
    primary_unit_id: str | None = None
    primary_type: UnitType | None = None
    unit_id: str | None = None
    """The unit the dispatcher named; None to keep the primary."""
    unit_type: UnitType | None = None
    unit_status: UnitStatus | None = None
    unit_call_id: str | None = None
    """The call the named unit is on now, if any."""


@dataclass(frozen=True)
class OverridePlan:
    """What the override changes: the route in force after it, and whether the primary changes."""

    route: Route
    reassign: bool
    """The named unit becomes the primary and the previous primary (if any) is freed."""


def decide_override(
    state: OverrideState, *, route: Route | None, expected_version: int, chains: FallbackChains
) -> OverridePlan:
    """Check an override of ``route`` and/or ``state.unit_id`` against the call; raises OverrideRefused."""
    if state.call_status in CLOSED:
        raise CallClosed(f"the call is {state.call_status.value}")
    if state.version != expected_version:
        raise StaleOverride(
            f"the call changed (version {state.version}, the override was made on {expected_version})"
        )
    new_route = route or state.route
    reassign = state.unit_id is not None and state.unit_id != state.primary_unit_id
    if reassign:
        assert state.unit_type is not None  # a named unit that exists has a type
        if state.unit_status is not UnitStatus.AVAILABLE:
            on = f" on call {state.unit_call_id}" if state.unit_call_id else ""
            raise UnitBusy(f"unit {state.unit_id} is {state.unit_status}{on}")
        if state.unit_type not in chains[new_route]:
            raise UnitCannotServe(
                f"a {state.unit_type.value} unit cannot serve {new_route.value} "
                f"(its chain: {', '.join(chains[new_route])})"
            )
    elif state.primary_type is not None and state.primary_type not in chains[new_route]:
        raise UnitCannotServe(
            f"the call's {state.primary_type.value} unit cannot serve {new_route.value}: name a unit that can"
        )
    return OverridePlan(route=new_route, reassign=reassign)


def backup_route(unit_type: UnitType, call_status: CallStatus, has_unit: bool) -> Route:
    """The route whose chain begins with ``unit_type``, to rank backup candidates.

    Raises BackupNotPossible when the call is closed or has no unit yet.
    """
    if call_status in CLOSED:
        raise BackupNotPossible(f"the call is {call_status.value}", current_status=call_status.value)
    if call_status is CallStatus.QUEUED or not has_unit:
        raise BackupNotPossible(
            "the call has no unit on it yet; it is still queued", current_status=call_status.value
        )
    return {
        UnitType.POLICE: Route.POLICE,
        UnitType.CLINICIAN: Route.CLINICIAN_ONLY,
        UnitType.CO_RESPONSE: Route.CO_RESPONSE,
    }[unit_type]
