"""The unit roster over HTTP: read it, register or update units, put them in or out of service."""

from __future__ import annotations

from typing import Annotated, Any

from dispatch_shared.events import UnitStatus, UnitType
from dispatch_shared.http import RuntimeDep
from fastapi import APIRouter, Body, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import Field, TypeAdapter, ValidationError

from routing import roster
from routing.api.deps import ChainsDep, DutyDep, SessionDep, unprocessable
from routing.api.principal import PrincipalDep, require_own_unit
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

_ONE: TypeAdapter[UnitRegistration] = TypeAdapter(UnitRegistration)
_MANY: TypeAdapter[list[UnitRegistration]] = TypeAdapter(
    Annotated[list[UnitRegistration], Field(min_length=1, max_length=MAX_UNITS_PER_REQUEST)]
)


# The body as documented: one registration or a list. Its $defs (UnitRegistration, UnitType) join
# the document's components (``dispatch_shared.openapi``).
_BODY_SCHEMA = TypeAdapter(
    UnitRegistration
    | Annotated[list[UnitRegistration], Field(min_length=1, max_length=MAX_UNITS_PER_REQUEST)]
).json_schema(ref_template="#/components/schemas/{model}")


def _registrations(body: dict[str, Any] | list[Any]) -> list[UnitRegistration]:
    """One registration or a list, validated by the body's own shape, so a 422 names
    ``["body", field]`` or ``["body", index, field]`` and never the union's member."""
    try:
        return _MANY.validate_python(body) if isinstance(body, list) else [_ONE.validate_python(body)]
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors(include_url=False)]
        raise RequestValidationError(errors) from None


@reads.get("/v1/units", summary="The roster, by type then id")
def list_units(
    session: SessionDep,
    status: Annotated[UnitStatus | None, Query(description="Only units in this status.")] = None,
    type: Annotated[UnitType | None, Query(description="Only units of this type.")] = None,
) -> UnitList:
    units = roster.list_units(session, status=status, unit_type=type)
    return UnitList(items=[UnitView.of(unit) for unit in units], total=len(units))


@reads.get("/v1/units/{unit_id}", summary="One unit", responses={404: {"description": "No such unit"}})
def get_unit(unit_id: UnitIdPath, session: SessionDep) -> UnitView:
    return UnitView.of(roster.get_unit(session, unit_id))


@changes.post(
    "/v1/units",
    summary="Register or update a unit, or a list of units",
    description=(
        "A unit that is new or becomes available takes the most urgent queued call it can serve. "
        f"At most {MAX_UNITS_PER_REQUEST} units per request."
    ),
    responses={409: {"description": "The unit is on a call and cannot change type or status now"}},
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}
    },
)
def register_units(
    body: Annotated[dict[str, Any] | list[Any], Body(include_in_schema=False)],
    runtime: RuntimeDep,
    chains: ChainsDep,
    duty: DutyDep,
) -> UnitView | list[UnitView]:
    registrations = _registrations(body)
    for position, registration in enumerate(registrations):
        if unknown := duty.unknown_zones(registration.zones or ()):
            where = ("body", position, "zones") if isinstance(body, list) else ("body", "zones")
            raise unprocessable(where, f"no zone named {unknown[0]!r} in ZONES_FILE")
    unit_changes = [roster.UnitChange(**registration.model_dump()) for registration in registrations]
    with runtime.unit_of_work() as session:
        units = roster.register_units(
            session, changes=unit_changes, chains=chains, outbox=runtime.outbox, duty=duty
        )
        views = [UnitView.of(unit) for unit in units]
    return views if isinstance(body, list) else views[0]


@reports.put(
    "/v1/units/{unit_id}/status",
    summary="Put a unit in or out of service",
    description="Only available and out_of_service; the other statuses follow the unit's call.",
    responses={
        403: {"description": "A unit key bound to another unit"},
        404: {"description": "No such unit"},
        409: {"description": "Not a status the roster sets now"},
    },
)
def set_unit_status(
    unit_id: UnitIdPath,
    update: UnitStatusUpdate,
    runtime: RuntimeDep,
    chains: ChainsDep,
    duty: DutyDep,
    principal: PrincipalDep,
) -> UnitView:
    require_own_unit(principal, unit_id=unit_id)
    with runtime.unit_of_work() as session:
        unit = roster.set_unit_status(
            session,
            unit_id=unit_id,
            status=update.status,
            lat=update.lat,
            lon=update.lon,
            chains=chains,
            outbox=runtime.outbox,
            duty=duty,
        )
        view = UnitView.of(unit)
    return view
