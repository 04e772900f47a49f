"""Calls over HTTP: the console's view of them, and lifecycle reports from units and dispatchers."""

from __future__ import annotations

from typing import Annotated, Any, Literal
from uuid import UUID

from dispatch_shared.auth import Role, require
from dispatch_shared.db import transaction
from dispatch_shared.events import CallStatus, Route
from dispatch_shared.http import RuntimeDep
from fastapi import APIRouter, Body, Depends, Path, Query
from fastapi.exceptions import RequestValidationError
from pydantic import TypeAdapter, ValidationError
from sqlmodel import Session

from routing import calls, dispatch, metrics
from routing.api.deps import ChainsDep, DutyDep, SessionDep, unprocessable
from routing.api.principal import PrincipalDep, require_own_call
from routing.models import RoutedCall
from routing.override import UnitCannotServe
from routing.schemas import (
    BackupRequest,
    CallPage,
    CallStatusReport,
    CallView,
    OverrideRequest,
    StatusRequest,
)

reads = APIRouter(tags=["calls"])
"""Reading calls (consoles)."""
lifecycle = APIRouter(tags=["calls"])
"""Reporting lifecycle steps and asking for backup (units, and dispatchers relaying them)."""
overrides = APIRouter(tags=["calls"])
"""Dispatchers overruling the system's routing (consoles)."""

CallIdPath = Annotated[UUID, Path(description="The call's id: the UUID intake gave the call.")]


def _view(session: Session, call: RoutedCall) -> CallView:
    ids = [call.call_id]
    return CallView.of(
        call,
        calls.added_units(session, ids).get(call.call_id, []),
        calls.call_overrides(session, ids).get(call.call_id, []),
    )


@reads.get("/v1/calls", summary="Calls in dispatch order (most urgent, oldest first) or recent first")
def list_calls(
    session: SessionDep,
    status: Annotated[
        list[CallStatus] | None,
        Query(max_length=8, description="Only calls in this status; repeat for several (any of them)."),
    ] = None,
    route: Annotated[Route | None, Query(description="Only calls routed this way.")] = None,
    order: Annotated[
        Literal["dispatch", "recent"],
        Query(
            description="`dispatch`: most urgent first (priority 1 before 4), then oldest received "
            "first; `recent`: most recently updated first."
        ),
    ] = "dispatch",
    limit: Annotated[int, Query(ge=1, le=500, description="Most calls to return in this page.")] = 100,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="Calls to skip, in the chosen order, before this page.")
    ] = 0,
) -> CallPage:
    items, total = calls.list_calls(
        session,
        statuses=status or (),
        route=route,
        recent_first=order == "recent",
        limit=limit,
        offset=offset,
    )
    ids = [call.call_id for call in items]
    added = calls.added_units(session, ids)
    overridden = calls.call_overrides(session, ids)
    views = [
        CallView.of(call, added.get(call.call_id, []), overridden.get(call.call_id, [])) for call in items
    ]
    return CallPage(items=views, total=total, limit=limit, offset=offset)


@reads.get(
    "/v1/calls/{call_id}", summary="One call", responses={404: {"description": "routing has no such call"}}
)
def get_call(call_id: CallIdPath, session: SessionDep) -> CallView:
    return _view(session, calls.get_call(session, str(call_id)))


# The body as documented: a step or a backup request, told apart by ``status``. Its $defs join the
# document's components (``dispatch_shared.openapi``).
_BODY_SCHEMA = TypeAdapter(StatusRequest).json_schema(ref_template="#/components/schemas/{model}")


@lifecycle.post(
    "/v1/calls/{call_id}/status",
    summary="Report a lifecycle step (en_route, on_scene, resolved with a disposition, cancelled), "
    "or ask for backup (backup_requested with a reason)",
    responses={
        403: {"description": "A unit key bound to a unit that is not on this call"},
        404: {"description": "routing has no such call"},
        409: {
            "description": "The step cannot follow the call's status (lists the allowed ones), "
            "or backup for a closed or still queued call"
        },
        422: {"description": "Bad input, e.g. resolved without a disposition"},
    },
    openapi_extra={
        "requestBody": {"required": True, "content": {"application/json": {"schema": _BODY_SCHEMA}}}
    },
)
def report_status(
    call_id: CallIdPath,
    body: Annotated[dict[str, Any], Body(description="A CallStatusReport or a BackupRequest.")],
    runtime: RuntimeDep,
    chains: ChainsDep,
    duty: DutyDep,
    principal: PrincipalDep,
) -> CallView:
    require_own_call(principal, call_id=str(call_id), engine=runtime.engine)
    report = _status_request(body)
    if isinstance(report, BackupRequest):
        return _request_backup(call_id, report, runtime, chains, duty)
    step = calls.StatusReport(
        status=CallStatus(report.status),
        disposition=report.disposition,
        use_of_force=report.use_of_force,
        notes=report.notes,
    )
    with runtime.unit_of_work() as session:
        call = calls.report_status(
            session, call_id=str(call_id), report=step, chains=chains, outbox=runtime.outbox, duty=duty
        )
        view = _view(session, call)
    metrics.record_report(call)
    return view


_STATUS_REQUEST: TypeAdapter[StatusRequest] = TypeAdapter(StatusRequest)


def _status_request(body: dict[str, Any]) -> CallStatusReport | BackupRequest:
    """The body as a step or a backup request; 422 naming fields as ``["body", field]``."""
    try:
        return _STATUS_REQUEST.validate_python(body)
    except ValidationError as exc:
        errors = []
        for error in exc.errors(include_url=False):
            loc = error["loc"]
            tagged = len(loc) > 1 and loc[0] == body.get("status")  # the union's tag, not a field
            errors.append({**error, "loc": ("body", *(loc[1:] if tagged else loc))})
        raise RequestValidationError(errors) from None


def _request_backup(
    call_id: UUID, request: BackupRequest, runtime: RuntimeDep, chains: ChainsDep, duty: DutyDep
) -> CallView:
    with runtime.unit_of_work() as session:
        call = dispatch.request_backup(
            session,
            call_id=str(call_id),
            unit_type=request.unit_type,
            reason=request.reason,
            chains=chains,
            outbox=runtime.outbox,
            duty=duty,
        )
        view = _view(session, call)
    return view


@overrides.post(
    "/v1/calls/{call_id}/override",
    summary="Overrule the system: re-route the call and/or make a named unit its primary, with a reason",
    responses={
        404: {"description": "routing has no such call"},
        409: {"description": "The call is closed, changed since it was read, or the unit is busy"},
        422: {"description": "No or unknown reason, nothing to change, or a unit the route cannot use"},
    },
)
def override_call(
    call_id: CallIdPath,
    request: OverrideRequest,
    runtime: RuntimeDep,
    chains: ChainsDep,
    duty: DutyDep,
    role: Annotated[Role, Depends(require(Role.CONSOLE))],
) -> CallView:
    version = request.version
    if version is None:  # the call as it was when the request came, so a concurrent override loses
        with transaction(runtime.engine) as session:
            seen = session.get(RoutedCall, str(call_id))
            version = seen.version if seen is not None else 0
    override = dispatch.Override(
        reason=request.reason,
        route=request.route,
        unit_id=request.unit_id,
        notes=request.notes,
        by=request.dispatcher or role.value,
        version=version,
    )
    try:
        with runtime.unit_of_work() as session:
            call = dispatch.override_call(
                session,
                call_id=str(call_id),
                override=override,
                chains=chains,
                outbox=runtime.outbox,
                duty=duty,
            )
            view = _view(session, call)
    except dispatch.UnknownUnit:
        raise unprocessable(("body", "unit_id"), f"no unit {request.unit_id} on the roster") from None
    except UnitCannotServe as exc:  # a refusal of the body's unit, not of the call's state
        raise unprocessable(("body", "unit_id"), str(exc)) from None
    return view
