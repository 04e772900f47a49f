"""The unit roster over HTTP: read it, register or update units, put them in or out of service."""

from __future__ import annotations

from typing import Annotated

from dispatch_shared.db import transaction
from dispatch_shared.events import UnitStatus, UnitType
from dispatch_shared.http import RuntimeDep
from fastapi import APIRouter, Body, HTTPException, Path

from routing import roster
from routing.api.deps import ChainsDep, SessionDep
from routing.schemas import (
    MAX_UNITS_PER_REQUEST,
    UnitId,
    UnitList,
    UnitRegistration,
    UnitStatusUpdate,
    UnitView,
)

reads = APIRouter(tags=["units"])
"""Reading the roster (consoles)."""
changes = APIRouter(tags=["units"])
"""Registering and updating units (operations)."""
reports = APIRouter(tags=["units"])
"""A unit putting itself in or out of service (units)."""

UnitIdPath = Annotated[UnitId, Path(description="The unit's id.")]


@reads.get("/v1/units", summary="The roster, by type then id")
def list_units(
    session: SessionDep, status: UnitStatus | None = None, type: UnitType | None = None
) -> UnitList:
    units = roster.list_units(session, status=status, unit_type=type)
    return UnitList(items=[UnitView.of(unit) for unit in units], total=len(units))


@reads.get("/v1/units/{unit_id}", summary="One unit", responses={404: {"description": "No such unit"}})
def get_unit(unit_id: UnitIdPath, session: SessionDep) -> UnitView:
    try:
        return UnitView.of(roster.get_unit(session, unit_id))
    except roster.UnknownUnit:
        raise HTTPException(status_code=404, detail=f"no unit {unit_id}") from None


@changes.post(
    "/v1/units",
    summary="Register or update a unit, or a list of units",
    description=(
        "A unit that is new or becomes available takes the most urgent queued call it can serve. "
        f"At most {MAX_UNITS_PER_REQUEST} units per request."
    ),
    responses={409: {"description": "The unit is on a call and cannot change type or status now"}},
)
def register_units(
    body: Annotated[
        UnitRegistration | Annotated[list[UnitRegistration], Body(max_length=MAX_UNITS_PER_REQUEST)], Body()
    ],
    runtime: RuntimeDep,
    chains: ChainsDep,
) -> UnitView | list[UnitView]:
    registrations = body if isinstance(body, list) else [body]
    unit_changes = [roster.UnitChange(**registration.model_dump()) for registration in registrations]
    try:
        with transaction(runtime.engine) as session:
            units = roster.register_units(session, changes=unit_changes, chains=chains, outbox=runtime.outbox)
            views = [UnitView.of(unit) for unit in units]
    except roster.UnitBusy as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    runtime.relay.wake()
    return views if isinstance(body, list) else views[0]


@reports.put(
    "/v1/units/{unit_id}/status",
    summary="Put a unit in or out of service",
    description="Only available and out_of_service; the other statuses follow the unit's call.",
    responses={
        404: {"description": "No such unit"},
        409: {"description": "Not a status the roster sets now"},
    },
)
def set_unit_status(
    unit_id: UnitIdPath, update: UnitStatusUpdate, runtime: RuntimeDep, chains: ChainsDep
) -> UnitView:
    try:
        with transaction(runtime.engine) as session:
            unit = roster.set_unit_status(
                session,
                unit_id=unit_id,
                status=update.status,
                lat=update.lat,
                lon=update.lon,
                chains=chains,
                outbox=runtime.outbox,
            )
            view = UnitView.of(unit)
    except roster.UnknownUnit:
        raise HTTPException(status_code=404, detail=f"no unit {unit_id}") from None
    except roster.UnitBusy as exc:
        raise HTTPException(
            status_code=409, detail={"message": str(exc), "allowed": [s.value for s in exc.allowed]}
        ) from None
    runtime.relay.wake()
    return view
