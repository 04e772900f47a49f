"""triage's app: classifies received and updated calls, and offers a preview, built from its settings.

The routes live in ``triage.api`` (one module per area), the decision in ``triage.policy`` and
``triage.service``. The ``triage`` command is ``triage.cli.main``: with no arguments it calls
``main`` here, and ``triage classify`` never imports this module (nor the web stack).
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from dispatch_shared.auth import Role, require
from dispatch_shared.consumer import handles
from dispatch_shared.events import CallReceived, CallUpdated
from dispatch_shared.http import create_service_app, serve
from dispatch_shared.runtime import ServiceRuntime
from dispatch_shared.settings import ServiceSettings
from fastapi import APIRouter, Depends, FastAPI
from pydantic import Field
from sqlmodel import Session

from triage.api import policy, preview
from triage.models import TriageOutbox, TriageProcessedEvent
from triage.policy import language
from triage.policy.store import PolicyStore
from triage.retention import purge_before
from triage.service import triage_call

MIGRATIONS = Path(__file__).parent / "migrations"


class TriageSettings(ServiceSettings):
    """triage's settings (environment variables in upper case)."""

    service_name: str = "triage"
    port: int = Field(default=8002, validation_alias="TRIAGE_PORT", ge=1, le=65535)
    policy_check_seconds: float = Field(
        default=2.0, gt=0, description="How often the policy file is checked for changes."
    )


def _routers() -> list[tuple[APIRouter, tuple[Role, ...]]]:
    """Each router with the roles that may use it (see ``dispatch_shared.auth``)."""
    return [
        (preview.router, (Role.CAD, Role.CONSOLE, Role.OPS)),
        (policy.router, (Role.OPS,)),
    ]


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
        purge_pass=purge_before,
    )
    # A policy file that fails to load is refused (and logged) by the store; the old one stays.
    runtime.jobs.every(settings.policy_check_seconds, policies.reload_if_changed, name="policy check")

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        with suppress(NotImplementedError, RuntimeError, ValueError):  # not on the main thread
            asyncio.get_running_loop().add_signal_handler(signal.SIGHUP, policies.reload)
        # Language models load once here (1-2 s), not on the first call a dispatcher waits for.
        await asyncio.to_thread(language.load)
        await runtime.start()
        yield
        await runtime.stop()

    app = create_service_app(
        title="triage",
        description="Classifies calls by the behavior described and explains each decision.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.policies = policies
    for router, roles in _routers():
        app.include_router(router, dependencies=[Depends(require(*roles))])
    return app


def main() -> None:
    """Run triage's service until SIGTERM or SIGINT (``triage`` with no arguments)."""
    settings = TriageSettings()
    serve(create_app(settings), settings)
