"""The live side for dispatchers: the event stream (SSE), its tokens, and the console page.

The page is static and strict: its Content-Security-Policy admits only the console's own script
and style sheet (no inline code), no framing and no form posts. A browser opens the stream with
a short-lived token bought with its key (``routing.stream_tokens``), never with the key itself.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Annotated

from dispatch_shared.auth import Role, require
from dispatch_shared.http import RuntimeDep
from fastapi import APIRouter, Depends, Header, HTTPException, Query, Request, Response
from fastapi.responses import FileResponse, StreamingResponse

from routing.schemas import StreamToken
from routing.stream import PAGE_SIZE, StreamCursor, format_sse
from routing.stream_tokens import StreamTokens

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"

CONSOLE_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
        "require-trusted-types-for 'script'",
    ]
)
"""The console page's Content-Security-Policy: its own files only, nothing inline, no framing."""

stream = APIRouter(tags=["console"])
"""The event stream (consoles): a console key in the header, or a stream token in the URL."""
tokens = APIRouter(tags=["console"])
"""Stream tokens, bought with a console key."""
page = APIRouter(tags=["console"])
"""The console page itself: static, holds no data until it is given a key."""

TokenQuery = Annotated[
    str | None,
    Query(
        max_length=200,
        description="A stream token from `POST /v1/stream/token`, for clients that cannot send headers.",
    ),
]


def stream_access(*roles: Role) -> Callable[..., Role]:
    """A dependency admitting ``roles`` by stream token (``?token=``) or by key in the header.

    401 for a missing, forged or expired token or key; 403 for another role.
    """
    by_key = require(*roles)

    def check(request: Request, token: TokenQuery = None) -> Role:
        if token is None or request.headers.get("authorization"):
            return by_key(request)
        issuer: StreamTokens = request.app.state.stream_tokens
        role = issuer.verify(token)
        if role is None:
            raise HTTPException(
                status_code=401,
                detail="stream token invalid or expired: get a new one with POST /v1/stream/token",
                headers={"WWW-Authenticate": "Bearer"},
            )
        if role not in roles:
            raise HTTPException(status_code=403, detail=f"this needs a token for role {', '.join(roles)}")
        return role

    return check


@tokens.post(
    "/v1/stream/token",
    summary="A short-lived token that opens the event stream (for browsers' EventSource)",
    description=(
        "Send the console key as `Authorization: Bearer <key>`; open the stream with "
        "`GET /v1/stream?token=<token>` within `expires_in` seconds. The token opens only the stream; "
        "an open stream is not cut when the token expires."
    ),
)
def stream_token(
    request: Request, response: Response, role: Annotated[Role, Depends(require(Role.CONSOLE))]
) -> StreamToken:
    issuer: StreamTokens = request.app.state.stream_tokens
    issued = issuer.issue(role)
    response.headers["Cache-Control"] = "no-store"
    return StreamToken(token=issued.token, expires_in=issued.expires_in)


@stream.get(
    "/v1/stream",
    summary="Server-Sent Events: calls routed, call status and unit status, as they happen",
    description=(
        "Each event has `id:` (resume with the `Last-Event-ID` header, or `?last_event_id=`), "
        "`event:` (call.routed, call.status or unit.status) and `data:` (the event's JSON). "
        "Without an id the stream starts with the next event. Events go out in id order, and an id "
        "that may still commit holds back the ones after it until it does or its writer has ended. "
        "Authenticate with `Authorization: Bearer <console key>` or `?token=` from `POST /v1/stream/token`."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def event_stream(
    request: Request,
    runtime: RuntimeDep,
    last_event_id_header: Annotated[
        int | None,
        Header(
            alias="Last-Event-ID",
            ge=0,
            le=2**63 - 1,
            description="Resume after the event with this id (the last `id:` received); "
            "browsers send it when they reconnect.",
        ),
    ] = None,
    last_event_id: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Same as the Last-Event-ID header.")
    ] = None,
) -> StreamingResponse:
    settings = request.app.state.settings
    resume = last_event_id_header if last_event_id_header is not None else last_event_id
    if resume is not None:
        cursor = StreamCursor(runtime.engine, after=resume)
    else:
        cursor = await asyncio.to_thread(StreamCursor.at_newest, runtime.engine)

    async def events(cursor: StreamCursor) -> AsyncIterator[str]:
        yield f"retry: {int(settings.stream_retry_ms)}\n\n"
        quiet_since = time.monotonic()
        gate = request.app.state.stream_gate
        while not gate.closed and not await request.is_disconnected():
            before = cursor.after
            ready = await asyncio.to_thread(cursor.poll)
            for event in ready:
                yield format_sse(event)
                quiet_since = time.monotonic()
            if cursor.after - before >= PAGE_SIZE and cursor.waiting_on is None:
                continue  # a backlog: keep reading without pause
            if time.monotonic() - quiet_since > settings.stream_heartbeat_seconds:
                yield ": keep-alive\n\n"  # keeps proxies from closing an idle stream
                quiet_since = time.monotonic()
            await asyncio.sleep(settings.stream_poll_seconds)

    return StreamingResponse(
        events(cursor),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@page.get(
    "/console", summary="The dispatch console (HTML)", response_class=FileResponse, include_in_schema=True
)
async def console_page() -> FileResponse:
    return FileResponse(
        CONSOLE_DIR / "index.html",
        media_type="text/html",
        headers={
            "Cache-Control": "no-store",
            "Content-Security-Policy": CONSOLE_POLICY,
            "Cross-Origin-Opener-Policy": "same-origin",
        },
    )
