"""Calls over HTTP: CAD systems submit calls and notes, consoles read the ledger."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated
from uuid import UUID

from dispatch_shared.db import snapshot
from dispatch_shared.events import CallStatus, Route
from dispatch_shared.http import RuntimeDep
from dispatch_shared.runtime import ServiceRuntime
from fastapi import APIRouter, HTTPException, Path, Query, Response
from sqlmodel import Session

from intake import ledger
from intake.schemas import CallAccepted, CallPage, CallSubmission, LedgerRecord, NoteSubmission

submissions = APIRouter(tags=["calls"])
"""Submitting calls and notes (CAD systems)."""
reads = APIRouter(tags=["calls"])
"""Reading the ledger (consoles)."""

CallIdPath = Annotated[
    UUID, Path(description="The call's id: the UUID intake answered when the call was submitted.")
]


def accept(
    runtime: ServiceRuntime, submit: Callable[[Session], ledger.Submitted], response: Response
) -> CallAccepted:
    """Record a submission (``ledger.record_submission``): 202 for a new call, 200 for a repeat,
    409 for a change the call cannot take."""
    try:
        done = ledger.record_submission(runtime.unit_of_work, submit)
    except ledger.ChangeRefused as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    if not done.new:
        response.status_code = 200
    call = done.call
    return CallAccepted(
        call_id=UUID(call.call_id),
        status=CallStatus(call.status),
        updated=done.updated,
        revision=call.revision,
    )


@submissions.post(
    "/v1/calls",
    status_code=202,
    summary="Submit a call (idempotent on cad_incident_id; a changed resend updates it)",
    responses={
        200: {
            "model": CallAccepted,
            "description": "Already received: the same call, updated (``updated`` true) if the "
            "narrative, call type or location differ",
        },
        409: {"description": "A changed resend of a resolved or cancelled call"},
    },
)
def submit_call(submission: CallSubmission, response: Response, runtime: RuntimeDep) -> CallAccepted:
    return accept(
        runtime,
        lambda session: ledger.submit_call(session, submission=submission, outbox=runtime.outbox),
        response,
    )


@submissions.post(
    "/v1/calls/{call_id}/notes",
    status_code=202,
    summary="Append a supplemental note to a call; triage decides the call again",
    responses={
        404: {"description": "No such call"},
        409: {"description": "The call is resolved or cancelled, or its text is full"},
    },
)
def add_note(call_id: CallIdPath, note: NoteSubmission, runtime: RuntimeDep) -> CallAccepted:
    try:
        with runtime.unit_of_work() as session:
            call = ledger.add_note(session, call_id=call_id, note=note, outbox=runtime.outbox)
    except ledger.UnknownCall:
        raise HTTPException(status_code=404, detail=f"no call {call_id}") from None
    except ledger.ChangeRefused as exc:
        raise HTTPException(status_code=409, detail=str(exc)) from None
    return CallAccepted(call_id=call_id, status=CallStatus(call.status), updated=True, revision=call.revision)


@reads.get("/v1/calls/{call_id}", summary="A call's ledger record and timeline")
def get_call(call_id: CallIdPath, runtime: RuntimeDep) -> LedgerRecord:
    with snapshot(runtime.engine) as session:
        try:
            return ledger.get_ledger(session, call_id)
        except ledger.UnknownCall:
            raise HTTPException(status_code=404, detail=f"no call {call_id}") from None


@reads.get("/v1/calls", summary="List calls, newest first")
def list_calls(
    runtime: RuntimeDep,
    status: Annotated[CallStatus | None, Query(description="Only calls in this lifecycle status.")] = None,
    route: Annotated[
        Route | None,
        Query(description="Only calls triage routed this way (calls not yet triaged have none)."),
    ] = None,
    cad_incident_id: Annotated[
        str | None,
        Query(
            max_length=64,
            pattern=r"^[\x21-\x7e]+$",
            description="Only the call with this CAD incident id (`eido:...` for a call sent as an EIDO).",
        ),
    ] = None,
    limit: Annotated[int, Query(ge=1, le=500, description="Most calls to return in this page.")] = 50,
    offset: Annotated[
        int, Query(ge=0, le=1_000_000, description="Calls to skip, newest first, before this page.")
    ] = 0,
) -> CallPage:
    with snapshot(runtime.engine) as session:
        return ledger.list_calls(
            session,
            status=status,
            route=route,
            cad_incident_id=cad_incident_id,
            limit=limit,
            offset=offset,
        )
