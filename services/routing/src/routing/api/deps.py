"""Dependencies the routes share: the runtime, and the fallback chains and service rules in force."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from dispatch_shared.db import snapshot
from dispatch_shared.errors import InvalidInput
from dispatch_shared.http import RuntimeDep
from fastapi import Depends, Request
from sqlmodel import Session

from routing.assignment import FallbackChains
from routing.coverage import Duty


def get_chains(request: Request) -> FallbackChains:
    chains: FallbackChains = request.app.state.fallbacks
    return chains


ChainsDep = Annotated[FallbackChains, Depends(get_chains)]


def get_duty(request: Request) -> Duty:
    duty: Duty = request.app.state.duty
    return duty


DutyDep = Annotated[Duty, Depends(get_duty)]
"""The agency's service hours, zones and queue timeout (``routing.coverage.Duty``)."""


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A read-only session for queries: every query in one request sees the same snapshot."""
    with snapshot(runtime.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def unprocessable(location: tuple[str | int, ...], message: str) -> InvalidInput:
    """A 422 shaped like FastAPI's own validation errors, naming the offending field."""
    return InvalidInput(location, message)
