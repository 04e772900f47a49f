"""The live side for dispatchers: the event stream (SSE) and the console page that shows it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Annotated

from dispatch_shared.events import utcnow
from dispatch_shared.http import RuntimeDep
from fastapi import APIRouter, Header, Query, Request
from fastapi.responses import FileResponse, StreamingResponse

from routing.stream import events_after, format_sse, latest_event_id, next_events

CONSOLE_DIR = Path(__file__).resolve().parent.parent / "console"

stream = APIRouter(tags=["console"])
"""The event stream (consoles); browsers' EventSource may authenticate with ``?access_token=``."""
page = APIRouter(tags=["console"])
"""The console page itself: static, holds no data until it is given a key."""


@stream.get(
    "/v1/stream",
    summary="Server-Sent Events: calls routed, call status and unit status, as they happen",
    description=(
        "Each event has `id:` (resume with the `Last-Event-ID` header, or `?last_event_id=`), "
        "`event:` (call.routed, call.status or unit.status) and `data:` (the event's JSON). "
        "Without an id the stream starts with the next event."
    ),
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}},
)
async def event_stream(
    request: Request,
    runtime: RuntimeDep,
    last_event_id_header: Annotated[int | None, Header(alias="Last-Event-ID", ge=0, le=2**63 - 1)] = None,
    last_event_id: Annotated[
        int | None, Query(ge=0, le=2**63 - 1, description="Same as the Last-Event-ID header.")
    ] = None,
) -> StreamingResponse:
    settings = request.app.state.settings
    resume = last_event_id_header if last_event_id_header is not None else last_event_id
    after = resume if resume is not None else await asyncio.to_thread(latest_event_id, runtime.engine)

    async def events(after: int) -> AsyncIterator[str]:
        yield f"retry: {int(settings.stream_retry_ms)}\n\n"
        quiet_since = time.monotonic()
        gate = request.app.state.stream_gate
        while not gate.closed and not await request.is_disconnected():
            rows = await asyncio.to_thread(events_after, runtime.engine, after)
            ready = next_events(rows, after=after, now=utcnow())
            for event in ready:
                yield format_sse(event)
                after = event.id
                quiet_since = time.monotonic()
            if ready and len(ready) == len(rows) == 200:
                continue  # a backlog: keep reading without pause
            if time.monotonic() - quiet_since > settings.stream_heartbeat_seconds:
                yield ": keep-alive\n\n"  # keeps proxies from closing an idle stream
                quiet_since = time.monotonic()
            await asyncio.sleep(settings.stream_poll_seconds)

    return StreamingResponse(
        events(after),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-store", "X-Accel-Buffering": "no"},
    )


@page.get(
    "/console", summary="The dispatch console (HTML)", response_class=FileResponse, include_in_schema=True
)
async def console_page() -> FileResponse:
    return FileResponse(
        CONSOLE_DIR / "index.html", media_type="text/html", headers={"Cache-Control": "no-store"}
    )
