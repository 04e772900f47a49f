"""Dependencies the routes share: the runtime, and the fallback chains in force."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

from dispatch_shared.db import transaction
from dispatch_shared.http import RuntimeDep
from fastapi import Depends, HTTPException, Request
from sqlmodel import Session

from routing.assignment import FallbackChains


def get_chains(request: Request) -> FallbackChains:
    chains: FallbackChains = request.app.state.fallbacks
    return chains


ChainsDep = Annotated[FallbackChains, Depends(get_chains)]


def get_session(runtime: RuntimeDep) -> Iterator[Session]:
    """A read-only unit of work for queries."""
    with transaction(runtime.engine) as session:
        yield session


SessionDep = Annotated[Session, Depends(get_session)]


def unprocessable(location: tuple[str, ...], message: str) -> HTTPException:
    """A 422 shaped like FastAPI's own validation errors, naming the offending field."""
    return HTTPException(
        status_code=422, detail=[{"type": "value_error", "loc": list(location), "msg": message}]
    )
