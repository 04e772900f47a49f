"""routing's HTTP API and event handler: turns triaged calls into dispatched (or queued) calls."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from dispatch_shared.consumer import handles
from dispatch_shared.events import CallTriaged, Topic
from dispatch_shared.http import create_service_app, serve
from dispatch_shared.runtime import ServiceRuntime
from dispatch_shared.settings import ServiceSettings
from fastapi import FastAPI
from pydantic import Field
from sqlmodel import Session

from routing.models import RoutingOutbox, RoutingProcessedEvent
from routing.service import route_call

MIGRATIONS = Path(__file__).parent / "migrations"


class RoutingSettings(ServiceSettings):
    """routing's settings (environment variables in upper case)."""

    service_name: str = "routing"
    port: int = Field(default=8003, validation_alias="ROUTING_PORT", ge=1, le=65535)


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    """Build the routing app; settings come from the environment unless given."""
    settings = settings or RoutingSettings()

    def on_triaged(session: Session, call: CallTriaged) -> None:
        route_call(session, call=call, outbox=runtime.outbox)

    runtime = ServiceRuntime(
        settings,
        migrations_dir=MIGRATIONS,
        outbox_table=RoutingOutbox,
        inbox_table=RoutingProcessedEvent,
        handlers={Topic.CALLS_TRIAGED: handles(CallTriaged, on_triaged)},
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        await runtime.start()
        yield
        await runtime.stop()

    app = create_service_app(
        title="routing",
        description="Assigns units to triaged calls and tracks them to resolution.",
        settings=settings,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    return app


def main() -> None:
    """Run routing."""
    settings = RoutingSettings()
    serve(create_app(settings), settings)
