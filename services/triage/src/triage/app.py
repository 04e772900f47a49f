"""triage's HTTP API and event handlers: classifies received and updated calls, and offers a preview."""

from __future__ import annotations

import asyncio
import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path
from typing import Annotated, Any

from dispatch_shared.auth import Role, require
from dispatch_shared.consumer import handles
from dispatch_shared.events import CallReceived, CallUpdated, TriageDecision
from dispatch_shared.http import create_service_app
from dispatch_shared.http import serve as serve_app
from dispatch_shared.periodic import stop_jobs
from dispatch_shared.retention import start_retention
from dispatch_shared.runtime import ServiceRuntime
from dispatch_shared.settings import ServiceSettings
from fastapi import Depends, FastAPI
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import Session

from triage.models import TriageOutbox, TriageProcessedEvent
from triage.policy import language
from triage.policy.engine import classify
from triage.policy.store import PolicyStore
from triage.retention import purge_before
from triage.service import triage_call

MIGRATIONS = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


class TriageSettings(ServiceSettings):
    """triage's settings (environment variables in upper case)."""

    service_name: str = "triage"
    port: int = Field(default=8002, validation_alias="TRIAGE_PORT", ge=1, le=65535)
    policy_check_seconds: float = Field(
        default=2.0, gt=0, description="How often the policy file is checked for changes."
    )


class PreviewRequest(BaseModel):
    """A call to classify without side effects."""

    model_config = ConfigDict(extra="forbid")

    narrative: Annotated[str, Field(max_length=10_000)] = ""
    call_type: Annotated[str, Field(max_length=200)] | None = None


def create_app(settings: TriageSettings | None = None, store: PolicyStore | None = None) -> FastAPI:
    """Build the triage app; settings come from the environment and the policy from its file."""
    settings = settings or TriageSettings()
    policies = store or PolicyStore()

    def on_call(session: Session, call: CallReceived | CallUpdated) -> None:
        triage_call(session, call=call, policy=policies.current, outbox=runtime.outbox)

    runtime = ServiceRuntime(
        settings,
        migrations_dir=MIGRATIONS,
        outbox_table=TriageOutbox,
        inbox_table=TriageProcessedEvent,
        handlers=[handles(CallReceived, on_call), handles(CallUpdated, on_call)],
    )

    async def watch_policy() -> None:
        while True:
            await asyncio.sleep(settings.policy_check_seconds)
            try:
                policies.reload_if_changed()
            except Exception as exc:  # noqa: BLE001 - keep watching; the policy in force stays
                log.warning("policy check failed", extra={"error": exc.__class__.__name__})

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        loop = asyncio.get_running_loop()
        with suppress(NotImplementedError, RuntimeError, ValueError):  # not on the main thread
            loop.add_signal_handler(signal.SIGHUP, policies.reload)
        watcher = asyncio.create_task(watch_policy(), name="policy-watch")
        # Language models load once here (1-2 s), not on the first call a dispatcher waits for.
        await asyncio.to_thread(language.load)
        await runtime.start()
        retention = start_retention(
            runtime.engine,
            purge_before,
            retention_days=settings.retention_days,
            check_seconds=settings.retention_check_seconds,
        )
        yield
        await stop_jobs(watcher, retention)  # before the engine goes
        await runtime.stop()

    app = create_service_app(
        title="triage",
        description="Classifies calls by the behavior described and explains each decision.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.runtime = runtime

    @app.post(
        "/v1/triage/preview",
        tags=["triage"],
        summary="Classify a call without side effects",
        dependencies=[Depends(require(Role.CAD, Role.CONSOLE, Role.OPS))],
    )
    def preview(request: PreviewRequest) -> TriageDecision:
        return classify(request.narrative, request.call_type, policy=policies.current)

    @app.get(
        "/v1/policy",
        tags=["triage"],
        summary="The policy in force: version and summary",
        dependencies=[Depends(require(Role.OPS))],
    )
    def policy() -> dict[str, Any]:
        return policies.summary()

    return app


def serve() -> None:
    """Run the triage service."""
    settings = TriageSettings()
    serve_app(create_app(settings), settings)
