"""intake's HTTP API and event handlers: the front door for CAD systems and the call ledger."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Annotated, Any
from uuid import UUID

from dispatch_shared.auth import Role, require
from dispatch_shared.consumer import handles
from dispatch_shared.db import transaction
from dispatch_shared.events import (
    CallRouted,
    CallStatus,
    CallStatusChanged,
    CallTriaged,
    Route,
)
from dispatch_shared.http import RuntimeDep, create_service_app, serve
from dispatch_shared.periodic import stop_jobs
from dispatch_shared.ratelimit import RateLimiter, rate_limited
from dispatch_shared.retention import start_retention
from dispatch_shared.runtime import ServiceRuntime
from dispatch_shared.settings import ServiceSettings
from fastapi import Body, Depends, FastAPI, HTTPException, Query, Response
from pydantic import Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session

from intake import eido, ledger
from intake.models import IntakeOutbox, IntakeProcessedEvent
from intake.retention import purge_before
from intake.schemas import CallAccepted, CallPage, CallSubmission, LedgerRecord, NoteSubmission

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


class IntakeSettings(ServiceSettings):
    """intake's settings (environment variables in upper case)."""

    service_name: str = "intake"
    port: int = Field(default=8001, validation_alias="INTAKE_PORT", ge=1, le=65535)
    rate_limit_per_minute: int = Field(
        default=600, ge=0, description="Calls each API key may post per minute (0: no limit)."
    )
    rate_limit_burst: int = Field(default=100, ge=1, description="Posts a key may make at once.")
    eido_agency_id: str = Field(
        default="dispatch.invalid",
        min_length=1,
        max_length=200,
        pattern=r"^[\x21-\x7e]+$",
        description="The agency id (a domain name) EIDO exports name as their author; the issuing "
        "element is 'intake.' followed by it.",
    )


def create_app(settings: IntakeSettings | None = None) -> FastAPI:
    """Build the intake app; settings come from the environment unless given."""
    settings = settings or IntakeSettings()

    runtime = ServiceRuntime(
        settings,
        migrations_dir=MIGRATIONS,
        outbox_table=IntakeOutbox,
        inbox_table=IntakeProcessedEvent,
        handlers=[
            handles(CallTriaged, ledger.record_triaged, rejects=(ledger.UnknownCall,)),
            handles(CallRouted, ledger.record_routed, rejects=(ledger.UnknownCall,)),
            handles(CallStatusChanged, ledger.record_status, rejects=(ledger.UnknownCall,)),
        ],
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        retention = start_retention(
            runtime.engine,
            purge_before,
            retention_days=settings.retention_days,
            check_seconds=settings.retention_check_seconds,
        )
        yield
        await stop_jobs(retention)  # before the engine goes
        await runtime.stop()

    app = create_service_app(
        title="intake",
        description="Accepts calls from CAD systems and keeps the call ledger.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    if settings.rate_limit_per_minute:
        app.state.rate_limiter = RateLimiter(settings.rate_limit_per_minute, burst=settings.rate_limit_burst)

    def submit(apply: Callable[[Session], ledger.Submitted]) -> tuple[CallAccepted, bool]:
        """Run one submission in a transaction; the answer and whether it is a new call."""
        with transaction(runtime.engine) as session:
            done = apply(session)
            call = done.call
            accepted = CallAccepted(
                call_id=UUID(call.call_id),
                status=CallStatus(call.status),
                updated=done.updated,
                revision=call.revision,
            )
        return accepted, done.new

    def accept(apply: Callable[[Session], ledger.Submitted], response: Response) -> CallAccepted:
        """``submit``, retried once as a repeat when a concurrent post of the incident won the insert."""
        try:
            try:
                accepted, new = submit(apply)
            except IntegrityError:
                accepted, new = submit(apply)
        except ledger.ChangeRefused as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        if not new:
            response.status_code = 200
        if new or accepted.updated:
            runtime.relay.wake()
        return accepted

    @app.post(
        "/v1/calls",
        status_code=202,
        tags=["calls"],
        summary="Submit a call (idempotent on cad_incident_id; a changed resend updates it)",
        responses={
            200: {
                "model": CallAccepted,
                "description": "Already received: the same call, updated (``updated`` true) if the "
                "narrative, call type or location differ",
            },
            409: {"description": "A changed resend of a resolved or cancelled call"},
        },
        dependencies=[Depends(require(Role.CAD)), Depends(rate_limited)],
    )
    def submit_call(submission: CallSubmission, response: Response, runtime: RuntimeDep) -> CallAccepted:
        return accept(
            lambda session: ledger.submit_call(session, submission=submission, outbox=runtime.outbox),
            response,
        )

    @app.post(
        "/v1/eido",
        status_code=202,
        tags=["calls"],
        summary="Submit a call as a NENA EIDO, or a NENA-STA-024 notify message carrying one",
        description="The EIDO's `$id` is the incident: a later EIDO with the same `$id` and changed "
        "notes, incident type or location updates the call, an unchanged one changes nothing. "
        "Person descriptors never reach triage. 422 lists every missing or malformed part.",
        responses={
            200: {"model": CallAccepted, "description": "Already received: the same call, maybe updated"},
            409: {"description": "A changed resend of a resolved or cancelled call"},
        },
        dependencies=[Depends(require(Role.CAD)), Depends(rate_limited)],
    )
    def submit_eido(
        document: Annotated[dict[str, Any], Body()], response: Response, runtime: RuntimeDep
    ) -> CallAccepted:
        try:
            received = eido.read_eido(document)
        except eido.EidoInvalid as exc:
            raise HTTPException(status_code=422, detail=exc.errors) from None
        return accept(
            lambda session: eido.receive_eido(session, received=received, outbox=runtime.outbox),
            response,
        )

    @app.post(
        "/v1/calls/{call_id}/notes",
        status_code=202,
        tags=["calls"],
        summary="Append a supplemental note to a call; triage decides the call again",
        responses={
            404: {"description": "No such call"},
            409: {"description": "The call is resolved or cancelled, or its text is full"},
        },
        dependencies=[Depends(require(Role.CAD)), Depends(rate_limited)],
    )
    def add_note(call_id: UUID, note: NoteSubmission, runtime: RuntimeDep) -> CallAccepted:
        try:
            with transaction(runtime.engine) as session:
                call = ledger.add_note(session, call_id=call_id, note=note, outbox=runtime.outbox)
                accepted = CallAccepted(
                    call_id=call_id, status=CallStatus(call.status), updated=True, revision=call.revision
                )
        except ledger.UnknownCall:
            raise HTTPException(status_code=404, detail=f"no call {call_id}") from None
        except ledger.ChangeRefused as exc:
            raise HTTPException(status_code=409, detail=str(exc)) from None
        runtime.relay.wake()
        return accepted

    @app.get(
        "/v1/calls/{call_id}",
        tags=["calls"],
        summary="A call's ledger record and timeline",
        dependencies=[Depends(require(Role.CONSOLE))],
    )
    def get_call(call_id: UUID, runtime: RuntimeDep) -> LedgerRecord:
        with transaction(runtime.engine) as session:
            try:
                return ledger.get_ledger(session, call_id)
            except ledger.UnknownCall:
                raise HTTPException(status_code=404, detail=f"no call {call_id}") from None

    @app.get(
        "/v1/calls/{call_id}/eido",
        tags=["calls"],
        summary="A call as a NENA EIDO: its incident type, triage decision, location and assigned unit",
        responses={404: {"description": "No such call"}},
        dependencies=[Depends(require(Role.CONSOLE))],
    )
    def get_call_eido(call_id: UUID, runtime: RuntimeDep) -> dict[str, Any]:
        with transaction(runtime.engine) as session:
            try:
                return eido.export_call(session, call_id, agency_id=settings.eido_agency_id)
            except ledger.UnknownCall:
                raise HTTPException(status_code=404, detail=f"no call {call_id}") from None

    @app.get(
        "/v1/calls",
        tags=["calls"],
        summary="List calls, newest first",
        dependencies=[Depends(require(Role.CONSOLE))],
    )
    def list_calls(
        runtime: RuntimeDep,
        status: CallStatus | None = None,
        route: Route | None = None,
        cad_incident_id: Annotated[str | None, Query(max_length=64, pattern=r"^[\x21-\x7e]+$")] = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 50,
        offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
    ) -> CallPage:
        with transaction(runtime.engine) as session:
            return ledger.list_calls(
                session,
                status=status,
                route=route,
                cad_incident_id=cad_incident_id,
                limit=limit,
                offset=offset,
            )

    return app


def main() -> None:
    """Run intake."""
    settings = IntakeSettings()
    serve(create_app(settings), settings)
