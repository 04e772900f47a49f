"""intake's app: the front door for CAD systems and the call ledger, built from its settings.

The routes live in ``intake.api`` (one module per area), the ledger's logic in ``intake.ledger``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from dispatch_shared.auth import Role, require
from dispatch_shared.consumer import handles
from dispatch_shared.events import CallRouted, CallStatusChanged, CallTriaged
from dispatch_shared.http import create_service_app, serve
from dispatch_shared.ratelimit import RateLimiter, rate_limited
from dispatch_shared.runtime import ServiceRuntime
from dispatch_shared.settings import ServiceSettings
from fastapi import APIRouter, Depends, FastAPI
from pydantic import Field

from intake import ledger
from intake.api import calls, eido
from intake.models import IntakeOutbox, IntakeProcessedEvent
from intake.retention import purge_before

MIGRATIONS = Path(__file__).parent / "migrations"


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


def _routers() -> list[tuple[APIRouter, list[Any]]]:
    """Each router with its guards: the roles that may use it (``dispatch_shared.auth``), and for
    what CAD posts, the per-key rate limit."""
    from_cad = [Depends(require(Role.CAD)), Depends(rate_limited)]
    for_consoles = [Depends(require(Role.CONSOLE))]
    return [
        (calls.submissions, from_cad),
        (eido.submissions, from_cad),
        (calls.reads, for_consoles),
        (eido.reads, for_consoles),
    ]


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
        purge_pass=purge_before,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        yield
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
    for router, guards in _routers():
        app.include_router(router, dependencies=guards)
    return app


def main() -> None:
    """Run intake."""
    settings = IntakeSettings()
    serve(create_app(settings), settings)
