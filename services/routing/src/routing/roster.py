"""The unit roster: registering units, taking them in and out of service, and listing them.

A unit's working statuses (dispatched, en route, on scene) follow its call's lifecycle and are
never set directly; the roster only moves a unit between ``available`` and ``out_of_service``,
and only while it has no call. A unit that becomes available takes a waiting call at once.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass

from dispatch_shared.errors import Conflict, NotFound
from dispatch_shared.events import UnitStatus, UnitType, utcnow
from dispatch_shared.outbox import Outbox
from sqlmodel import Session, col, select

from routing.assignment import FallbackChains
from routing.coverage import Duty
from routing.dispatch import ANYTIME, publish_unit, take_dispatch_lock, take_next_call
from routing.models import RoutingUnit, json_list

__all__ = [
    "ROSTER_STATUSES",
    "UnitBusy",
    "UnitChange",
    "UnknownUnit",
    "get_unit",
    "list_units",
    "register_units",
    "set_unit_status",
]

ROSTER_STATUSES = (UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE)
"""The statuses the roster sets; the others follow a call."""


class UnknownUnit(NotFound, LookupError):
    """No unit has this id (404)."""

    def __init__(self, unit_id: str) -> None:
        super().__init__(f"no unit {unit_id}")
        self.unit_id = unit_id


class UnitBusy(Conflict):
    """The change needs a unit without a call, or a status the roster does not set (409).

    ``allowed``: the statuses the roster may set instead (none while the unit is on a call).
    """

    def __init__(self, message: str, *, allowed: Sequence[UnitStatus] = ()) -> None:
        super().__init__(message, allowed=allowed)


@dataclass(frozen=True)
class UnitChange:
    """A unit to register or update; ``status`` None keeps an existing unit's status."""

    unit_id: str
    type: UnitType
    name: str
    lat: float | None = None
    lon: float | None = None
    status: UnitStatus | None = None
    service_hours: list[str] | None = None
    """Weekly windows (``routing.coverage``); None: its type's from the roster file."""
    zones: list[str] | None = None
    """Zone names from ``ZONES_FILE``; None: its type's from the roster file."""


def get_unit(session: Session, unit_id: str) -> RoutingUnit:
    """The unit, or UnknownUnit."""
    unit = session.get(RoutingUnit, unit_id)
    if unit is None:
        raise UnknownUnit(unit_id)
    return unit


def list_units(
    session: Session, *, status: UnitStatus | None = None, unit_type: UnitType | None = None
) -> list[RoutingUnit]:
    """Units by type, then id; optionally only one status or type."""
    query = select(RoutingUnit)
    if status is not None:
        query = query.where(col(RoutingUnit.status) == status)
    if unit_type is not None:
        query = query.where(col(RoutingUnit.type) == unit_type)
    return list(session.exec(query.order_by(col(RoutingUnit.type), col(RoutingUnit.unit_id))).all())


def _check_roster_status(status: UnitStatus) -> None:
    if status not in ROSTER_STATUSES:
        raise UnitBusy(
            f"a unit becomes {status.value} through its call's lifecycle, not the roster",
            allowed=ROSTER_STATUSES,
        )


def _as_json(values: list[str] | None) -> str | None:
    return json.dumps(values) if values else None


def _apply(session: Session, change: UnitChange) -> tuple[RoutingUnit, bool]:
    """Insert or update one unit; returns it and whether it changed."""
    at = utcnow()
    unit = session.get(RoutingUnit, change.unit_id, with_for_update=True)
    if unit is None:
        status = change.status or UnitStatus.AVAILABLE
        _check_roster_status(status)
        unit = RoutingUnit(
            unit_id=change.unit_id,
            type=change.type,
            name=change.name,
            status=status,
            lat=change.lat,
            lon=change.lon,
            service_hours=_as_json(change.service_hours),
            zones=_as_json(change.zones),
            available_since=at if status is UnitStatus.AVAILABLE else None,
            updated_at=at,
        )
        session.add(unit)
        session.flush()
        return unit, True
    before = (unit.type, unit.name, unit.status, unit.lat, unit.lon, unit.service_hours, unit.zones)
    if unit.current_call_id is not None:
        if change.type != unit.type:
            raise UnitBusy(
                f"unit {unit.unit_id} is on call {unit.current_call_id}; its type cannot change now"
            )
        if change.status is not None and change.status != unit.status:
            raise UnitBusy(
                f"unit {unit.unit_id} is on call {unit.current_call_id}; resolve or cancel the call first"
            )
    if change.status is not None and change.status != unit.status:
        _check_roster_status(change.status)
        unit.status = change.status
        unit.available_since = at if change.status is UnitStatus.AVAILABLE else None
    unit.type, unit.name, unit.lat, unit.lon = change.type, change.name, change.lat, change.lon
    unit.service_hours, unit.zones = _as_json(change.service_hours), _as_json(change.zones)
    changed = before != (
        unit.type,
        unit.name,
        unit.status,
        unit.lat,
        unit.lon,
        unit.service_hours,
        unit.zones,
    )
    if changed:
        unit.updated_at = at
        unit.version += 1
        session.add(unit)
        session.flush()
    return unit, changed


def register_units(
    session: Session,
    *,
    changes: Sequence[UnitChange],
    chains: FallbackChains,
    outbox: Outbox,
    duty: Duty = ANYTIME,
) -> list[RoutingUnit]:
    """Register or update units; each change is published, and newly free units drain the queue."""
    take_dispatch_lock(session)
    units = []
    for change in changes:
        unit, changed = _apply(session, change)
        if changed:
            publish_unit(session, unit=unit, outbox=outbox, at=unit.updated_at)
        units.append(unit)
    for unit in units:
        take_next_call(session, unit=unit, chains=chains, outbox=outbox, at=utcnow(), duty=duty)
    return units


def set_unit_status(
    session: Session,
    *,
    unit_id: str,
    status: UnitStatus,
    lat: float | None = None,
    lon: float | None = None,
    chains: FallbackChains,
    outbox: Outbox,
    duty: Duty = ANYTIME,
) -> RoutingUnit:
    """Put a unit without a call in or out of service (optionally moving it); idempotent."""
    take_dispatch_lock(session)
    unit = session.get(RoutingUnit, unit_id, with_for_update=True)
    if unit is None:
        raise UnknownUnit(unit_id)
    _check_roster_status(status)
    if unit.current_call_id is not None:
        raise UnitBusy(
            f"unit {unit_id} is on call {unit.current_call_id}; the call's lifecycle moves it", allowed=()
        )
    change = UnitChange(
        unit_id=unit.unit_id,
        type=UnitType(unit.type),
        name=unit.name,
        lat=lat if lat is not None else unit.lat,
        lon=lon if lon is not None else unit.lon,
        status=status,
        service_hours=json_list(unit.service_hours),
        zones=json_list(unit.zones),
    )
    unit, changed = _apply(session, change)
    if changed:
        publish_unit(session, unit=unit, outbox=outbox, at=unit.updated_at)
    take_next_call(session, unit=unit, chains=chains, outbox=outbox, at=utcnow(), duty=duty)
    return unit
