"""routing's HTTP API and event handler: turns triaged calls into dispatched units and tracks them."""

from __future__ import annotations

import logging
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from functools import partial
from pathlib import Path
from types import FrameType
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from dispatch_shared.auth import Role, require
from dispatch_shared.consumer import handles
from dispatch_shared.events import CallTriaged, Route, UnitType, utcnow
from dispatch_shared.http import create_service_app, serve
from dispatch_shared.runtime import ServiceRuntime
from dispatch_shared.settings import ServiceSettings
from fastapi import APIRouter, Depends, FastAPI
from fastapi.staticfiles import StaticFiles
from pydantic import Field, SecretStr, field_validator
from sqlmodel import Session

from routing import dispatch
from routing.api import calls, console, insights, units
from routing.api.headers import SecurityHeaders
from routing.assignment import DEFAULT_FALLBACKS, validate_chains
from routing.coverage import Duty, load_roster_file, load_zones
from routing.metrics import ROUTING_STATE, watch_call_timeline
from routing.models import RoutingOutbox, RoutingProcessedEvent
from routing.retention import purge_before
from routing.stream_tokens import StreamTokens

MIGRATIONS = Path(__file__).parent / "migrations"

log = logging.getLogger(__name__)


class RoutingSettings(ServiceSettings):
    """routing's settings (environment variables in upper case)."""

    service_name: str = "routing"
    port: int = Field(default=8003, validation_alias="ROUTING_PORT", ge=1, le=65535)
    fallbacks: dict[Route, tuple[UnitType, ...]] = Field(
        default=DEFAULT_FALLBACKS,
        validation_alias="ROUTING_FALLBACKS",
        description=(
            "Unit types that may serve each route, most preferred first, as JSON, e.g. "
            '{"clinician_only": ["clinician", "co_response"], "co_response": ["co_response", "police"], '
            '"police": ["police"]}. Every route needs at least one type.'
        ),
    )
    agency_timezone: str = Field(
        default="UTC",
        description="IANA time zone (e.g. America/Los_Angeles) in which units' service hours are read.",
    )
    zones_file: Path | None = Field(
        default=None,
        description="GeoJSON FeatureCollection of named zones (Polygon/MultiPolygon, each with a 'name').",
    )
    roster_file: Path | None = Field(
        default=None,
        description='Per unit type service hours and zones: {"types": {"clinician": {"service_hours": '
        '["daily 06:00-22:00"], "zones": ["downtown"]}}}. A unit\'s own win.',
    )
    unserved_queue_seconds: float = Field(
        default=600,
        gt=0,
        description="Seconds a clinician_only or co_response call may wait queued before it is unserved.",
    )
    queue_check_seconds: float = Field(
        default=30, gt=0, description="How often the queue is looked at (timeouts, shifts that began)."
    )
    state_metrics_seconds: float = Field(
        default=10,
        gt=0,
        le=300,
        description="How often the queue and roster gauges (dispatch_calls_queued, dispatch_units, "
        "dispatch_queue_oldest_seconds) are re-read from the database.",
    )
    stream_poll_seconds: float = Field(default=0.5, gt=0, le=10, description="How often the stream looks.")
    stream_heartbeat_seconds: float = Field(default=15, gt=0, description="Idle time before a keep-alive.")
    stream_retry_ms: int = Field(default=2000, ge=100, description="Reconnect delay the stream advises.")
    stream_token_seconds: int = Field(
        default=60,
        ge=5,
        le=3600,
        description="Lifetime of a stream token (seconds); checked when a stream opens.",
    )
    stream_token_secret: SecretStr = Field(
        default=SecretStr(""),
        description=(
            "HMAC secret (32+ characters) signing stream tokens; every replica behind one address needs the "
            "same. Empty: a random secret per process, so a token opens streams only where it was issued."
        ),
    )

    @field_validator("fallbacks")
    @classmethod
    def _complete_chains(
        cls, fallbacks: dict[Route, tuple[UnitType, ...]]
    ) -> dict[Route, tuple[UnitType, ...]]:
        return validate_chains(fallbacks)

    @field_validator("agency_timezone")
    @classmethod
    def _known_zone(cls, name: str) -> str:
        try:
            ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(f"AGENCY_TIMEZONE {name!r} is not an IANA time zone") from None
        return name

    def duty(self) -> Duty:
        """The service rules these settings describe; raises ValueError for a bad zones or roster file."""
        zones = load_zones(self.zones_file) if self.zones_file else {}
        by_type = load_roster_file(self.roster_file) if self.roster_file else {}
        for unit_type, coverage in by_type.items():
            if unknown := [name for name in coverage.zones if name not in zones]:
                raise ValueError(f"ROSTER_FILE: {unit_type.value} names unknown zones {unknown}")
        return Duty(
            timezone=ZoneInfo(self.agency_timezone),
            zones=zones,
            by_type=by_type,
            queue_timeout_s=self.unserved_queue_seconds,
        )

    @field_validator("stream_token_secret")
    @classmethod
    def _long_secret(cls, secret: SecretStr) -> SecretStr:
        if secret.get_secret_value() and len(secret.get_secret_value()) < 32:
            raise ValueError("STREAM_TOKEN_SECRET needs at least 32 characters")
        return secret


def _routers() -> list[tuple[APIRouter, tuple[Role, ...]]]:
    """Each router with the roles that may use it (see ``dispatch_shared.auth``)."""
    return [
        (units.reads, (Role.CONSOLE, Role.OPS)),
        (units.changes, (Role.OPS,)),
        (units.reports, (Role.UNIT, Role.OPS)),
        (calls.reads, (Role.CONSOLE,)),
        (console.tokens, (Role.CONSOLE,)),
        # Dispatchers relay units' radio reports from the console, so the console may report too.
        (calls.lifecycle, (Role.UNIT, Role.CONSOLE)),
        (calls.overrides, (Role.CONSOLE,)),
        (insights.router, (Role.OPS,)),
        (insights.unserved_router, (Role.OPS, Role.CONSOLE)),
    ]


class StreamGate:
    """Tells open event streams that the server is stopping.

    uvicorn waits for open responses before it shuts down, and an event stream never ends on its
    own, so streams would hold every shutdown to the graceful timeout. The first SIGTERM or SIGINT
    closes the gate, the streams end, and the browsers reconnect elsewhere with Last-Event-ID.
    """

    def __init__(self) -> None:
        self.closed = False

    def close_on_exit_signals(self) -> None:
        """Chain onto the server's SIGTERM and SIGINT handlers (only possible on the main thread)."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)

            def handler(sig: int, frame: FrameType | None, previous: Any = previous) -> None:
                self.closed = True  # a plain flag: safe to set from a signal handler
                if callable(previous):
                    previous(sig, frame)

            with suppress(ValueError):  # not the main thread, e.g. under a test client
                signal.signal(signum, handler)


def create_app(settings: RoutingSettings | None = None) -> FastAPI:
    """Build the routing app; settings come from the environment unless given."""
    settings = settings or RoutingSettings()
    chains = settings.fallbacks
    duty = settings.duty()

    def on_triaged(session: Session, event: CallTriaged) -> None:
        dispatch.route_call(session, event=event, chains=chains, outbox=runtime.outbox, duty=duty)

    def review_queue() -> None:
        with runtime.unit_of_work() as session:
            overdue = dispatch.review_queue(
                session, chains=chains, outbox=runtime.outbox, duty=duty, at=utcnow()
            )
        if overdue:
            log.info("calls waited too long for their team", extra={"calls": overdue})

    runtime = ServiceRuntime(
        settings,
        migrations_dir=MIGRATIONS,
        outbox_table=RoutingOutbox,
        inbox_table=RoutingProcessedEvent,
        handlers=[handles(CallTriaged, on_triaged)],
        purge_pass=purge_before,
    )
    runtime.jobs.every(
        settings.state_metrics_seconds,
        partial(ROUTING_STATE.refresh, runtime.engine, duty),
        name="state metrics",
    )
    runtime.jobs.every(settings.queue_check_seconds, review_queue, name="queue review")

    gate = StreamGate()
    watch_call_timeline()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        gate.close_on_exit_signals()
        await runtime.start()
        yield
        gate.closed = True
        await runtime.stop()
        ROUTING_STATE.forget()  # after the job that refreshes it has stopped

    app = create_service_app(
        title="routing",
        description=(
            "Assigns units to triaged calls (nearest of the type the route needs, with a fallback chain, "
            "queued when none can serve), tracks them to resolution, and serves consoles and insights."
        ),
        settings=settings,
        lifespan=lifespan,
    )
    app.state.runtime = runtime
    app.state.fallbacks = chains
    app.state.duty = duty
    app.state.stream_gate = gate
    app.state.stream_tokens = StreamTokens.with_secret(
        settings.stream_token_secret.get_secret_value(), ttl_seconds=settings.stream_token_seconds
    )
    for router, roles in _routers():
        app.include_router(router, dependencies=[Depends(require(*roles))])
    # EventSource cannot send headers: the stream also takes a short-lived token in its URL.
    app.include_router(console.stream, dependencies=[Depends(console.stream_access(Role.CONSOLE))])
    app.include_router(console.page)
    app.add_middleware(SecurityHeaders)
    app.mount("/console/assets", StaticFiles(directory=console.CONSOLE_DIR), name="console-assets")
    return app


def main() -> None:
    """Run routing."""
    settings = RoutingSettings()
    serve(create_app(settings), settings)
