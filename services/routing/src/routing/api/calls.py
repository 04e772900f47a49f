"""Calls over HTTP: the console's view of them, and lifecycle reports from units and dispatchers."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from dispatch_shared.db import transaction
from dispatch_shared.events import CallStatus, Route
from dispatch_shared.http import RuntimeDep
from fastapi import APIRouter, HTTPException, Query

from routing import calls
from routing.api.deps import ChainsDep, SessionDep
from routing.lifecycle import TransitionNotAllowed
from routing.schemas import CallPage, CallStatusReport, CallView

reads = APIRouter(tags=["calls"])
"""Reading calls (consoles)."""
lifecycle = APIRouter(tags=["calls"])
"""Reporting lifecycle steps (units, and dispatchers relaying them)."""


@reads.get("/v1/calls", summary="Calls in dispatch order (most urgent, oldest first) or recent first")
def list_calls(
    session: SessionDep,
    status: Annotated[list[CallStatus] | None, Query(max_length=8, description="Repeat for several.")] = None,
    route: Route | None = None,
    order: Literal["dispatch", "recent"] = "dispatch",
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> CallPage:
    items, total = calls.list_calls(
        session,
        statuses=status or (),
        route=route,
        recent_first=order == "recent",
        limit=limit,
        offset=offset,
    )
    added = calls.added_units(session, [call.call_id for call in items])
    views = [CallView.of(call, added.get(call.call_id, [])) for call in items]
    return CallPage(items=views, total=total, limit=limit, offset=offset)


@reads.get(
    "/v1/calls/{call_id}", summary="One call", responses={404: {"description": "routing has no such call"}}
)
def get_call(call_id: UUID, session: SessionDep) -> CallView:
    try:
        call = calls.get_call(session, str(call_id))
        return CallView.of(call, calls.added_units(session, [call.call_id]).get(call.call_id, []))
    except calls.UnknownCall:
        raise HTTPException(status_code=404, detail=f"no call {call_id}") from None


@lifecycle.post(
    "/v1/calls/{call_id}/status",
    summary="Report a lifecycle step: en_route, on_scene, resolved (with a disposition) or cancelled",
    responses={
        404: {"description": "routing has no such call"},
        409: {"description": "The step cannot follow the call's status; lists the allowed ones"},
        422: {"description": "Bad input, e.g. resolved without a disposition"},
    },
)
def report_status(
    call_id: UUID, report: CallStatusReport, runtime: RuntimeDep, chains: ChainsDep
) -> CallView:
    step = calls.StatusReport(
        status=CallStatus(report.status),
        disposition=report.disposition,
        use_of_force=report.use_of_force,
        notes=report.notes,
    )
    try:
        with transaction(runtime.engine) as session:
            call = calls.report_status(
                session, call_id=str(call_id), report=step, chains=chains, outbox=runtime.outbox
            )
            view = CallView.of(call, calls.added_units(session, [call.call_id]).get(call.call_id, []))
    except calls.UnknownCall:
        raise HTTPException(status_code=404, detail=f"no call {call_id}") from None
    except TransitionNotAllowed as exc:
        raise HTTPException(
            status_code=409,
            detail={
                "message": str(exc),
                "status": exc.current.value,
                "allowed": [status.value for status in exc.allowed],
            },
        ) from None
    except calls.ConcurrentUpdate as exc:
        raise HTTPException(status_code=409, detail={"message": str(exc), "allowed": []}) from None
    runtime.relay.wake()
    return view
