"""Calls as NENA EIDO documents: CAD systems submit them, consoles export a call as one."""

from __future__ import annotations

from typing import Annotated, Any

from dispatch_shared.db import snapshot
from dispatch_shared.http import RuntimeDep
from fastapi import APIRouter, Body, HTTPException, Response

from intake import eido, ledger
from intake.api.calls import CallIdPath, accept
from intake.api.deps import AgencyIdDep
from intake.api.eido_examples import EXPORTED, SUBMIT_EXAMPLES
from intake.schemas import CallAccepted

submissions = APIRouter(tags=["calls"])
"""Submitting calls as EIDOs (CAD systems)."""
reads = APIRouter(tags=["calls"])
"""Exporting calls as EIDOs (consoles)."""


@submissions.post(
    "/v1/eido",
    status_code=202,
    summary="Submit a call as a NENA EIDO, or a NENA-STA-024 notify message carrying one",
    description="The EIDO's `$id` is the incident: a later EIDO with the same `$id` and changed "
    "notes, incident type or location updates the call, an unchanged one changes nothing. "
    "Person descriptors never reach triage. 422 lists every missing or malformed part.",
    responses={
        200: {"model": CallAccepted, "description": "Already received: the same call, maybe updated"},
        409: {"description": "A changed resend of a resolved or cancelled call"},
    },
)
def submit_eido(
    document: Annotated[
        dict[str, Any],
        Body(
            description="An EIDO 1.0 (NENA-STA-021) object, or a NENA-STA-024 notify message "
            '`{"event": {"notification": [<one EIDO>]}}`.',
            openapi_examples=SUBMIT_EXAMPLES,
        ),
    ],
    response: Response,
    runtime: RuntimeDep,
) -> CallAccepted:
    try:
        received = eido.read_eido(document)
    except eido.EidoInvalid as exc:
        raise HTTPException(status_code=422, detail=exc.errors) from None
    return accept(
        runtime,
        lambda session: eido.receive_eido(session, received=received, outbox=runtime.outbox),
        response,
    )


@reads.get(
    "/v1/calls/{call_id}/eido",
    summary="A call as a NENA EIDO: its incident type, triage decision, location and assigned unit",
    responses={
        200: {
            "description": "An EIDO 1.0 document (NENA-STA-021) valid against NENA's schema",
            "content": {"application/json": {"example": EXPORTED}},
        },
        404: {"description": "No such call"},
    },
)
def get_call_eido(call_id: CallIdPath, runtime: RuntimeDep, agency_id: AgencyIdDep) -> dict[str, Any]:
    with snapshot(runtime.engine) as session:
        try:
            return eido.export_call(session, call_id, agency_id=agency_id)
        except ledger.UnknownCall:
            raise HTTPException(status_code=404, detail=f"no call {call_id}") from None
