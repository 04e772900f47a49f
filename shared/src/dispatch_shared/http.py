"""What every service's HTTP side shares: probes, metrics, body limits, error shape, serving."""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Annotated, Any

import uvicorn
from fastapi import Depends, FastAPI, Request, Response
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.exc import OperationalError
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from dispatch_shared.asyncapi import asyncapi_document
from dispatch_shared.auth import KeyRing, load_api_keys
from dispatch_shared.errors import DomainError, ErrorBody
from dispatch_shared.jsonsafe import (  # noqa: F401 - INT64_* and MAX_REPORTED_ERRORS re-exported
    INT64_MAX,
    INT64_MIN,
    MAX_JSON_DEPTH,
    MAX_REPORTED_ERRORS,
    json_edge_errors,
)
from dispatch_shared.logs import configure_logging
from dispatch_shared.metrics import HTTP_REQUESTS, HTTP_SECONDS
from dispatch_shared.openapi import install_openapi
from dispatch_shared.runtime import ServiceRuntime, is_ready
from dispatch_shared.settings import ServiceSettings
from dispatch_shared.tracing import install_tracing

log = logging.getLogger(__name__)

Lifespan = Callable[[FastAPI], AbstractAsyncContextManager[None]]


class BodyLimitMiddleware:
    """Answer 413 for bodies over ``max_bytes``, whether or not Content-Length is declared.

    The answer goes out when the app first reads the body, so the route is known by then and the
    413 is counted under it; a route that never reads its body is not held to the limit.
    """

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope["headers"]).get(b"content-length")
        declared_too_large = declared is not None and declared.isdigit() and int(declared) > self.max_bytes
        seen = 0
        rejected = False

        async def limited_receive() -> Message:
            nonlocal seen, rejected
            if rejected:
                return {"type": "http.disconnect"}
            if declared_too_large:  # refused unread
                message: Message = {"type": "http.request", "body": b"", "more_body": True}
            else:
                message = await receive()
                seen += len(message.get("body", b""))
            if declared_too_large or seen > self.max_bytes:
                # Answer now and tell the app the client left: frameworks turn exceptions raised
                # while reading a body into a 400 of their own, which would hide the 413.
                rejected = True
                await self._reject(scope, receive, send)
                return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not rejected:
                await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except ClientDisconnect:
            if not rejected:
                raise

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = JSONResponse(
            {"detail": f"request body larger than {self.max_bytes} bytes"}, status_code=413
        )
        await response(scope, receive, send)


# Methods whose body a route may read; the body of GET and friends is never parsed.
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


def _declares_json(scope: Scope) -> bool:
    """Whether FastAPI reads this request's body as JSON: no content type, or a JSON one."""
    for name, value in scope["headers"]:
        if name == b"content-type":
            media: bytes = value.split(b";", 1)[0].strip().lower()
            return media == b"application/json" or (
                media.startswith(b"application/") and media.endswith(b"+json")
            )
    return True


class JsonEdgeMiddleware:
    """Answer 422 for a JSON body holding values no field can take as sent (``json_edge_errors``).

    Every route of every service gets the same check when it reads its body, before any handler,
    error response or database sees a NaN, an infinity, a lone surrogate or an absurd depth.
    Bodies that pass reach the app byte for byte as they were received.
    """

    def __init__(self, app: ASGIApp, max_depth: int = MAX_JSON_DEPTH) -> None:
        self.app = app
        self.max_depth = max_depth

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS or not _declares_json(scope):
            await self.app(scope, receive, send)
            return
        body: deque[Message] | None = None  # read whole at the app's first read, then handed over
        refused = False

        async def checked_receive() -> Message:
            nonlocal body, refused
            if body is None:
                body = await _whole_body(receive)
                errors = self._errors(body)
                if errors:
                    # As the body limit does: answer now, tell the app the client left, drop its
                    # answer. Reading happens after routing, so the 422 is counted under the route.
                    refused = True
                    await JSONResponse({"detail": errors}, status_code=422)(scope, receive, send)
            if refused:
                return {"type": "http.disconnect"}
            return body.popleft() if body else await receive()

        async def guarded_send(message: Message) -> None:
            if not refused:
                await send(message)

        try:
            await self.app(scope, checked_receive, guarded_send)
        except ClientDisconnect:
            if not refused:
                raise

    def _errors(self, messages: deque[Message]) -> list[dict[str, Any]]:
        if messages[-1]["type"] != "http.request":
            return []  # the client left (or the body limit answered): the app sees that as before
        body = b"".join(message.get("body", b"") for message in messages)
        return json_edge_errors(body, max_depth=self.max_depth) if body else []


async def _whole_body(receive: Receive) -> deque[Message]:
    """The messages of a request body up to its last chunk (or until the client leaves)."""
    messages: deque[Message] = deque()
    while True:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request" or not message.get("more_body", False):
            return messages


# Other method names a client may invent are counted together, so they cannot grow the series.
_COUNTED_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})


def _route_template(scope: Scope) -> str:
    """The template of the route the router chose (``/v1/calls/{call_id}``), or ``unmatched``."""
    path = getattr(scope.get("route"), "path", None)
    return path if isinstance(path, str) and path else "unmatched"


class MetricsMiddleware:
    """Count and time every HTTP response by method, route template and status.

    Added outside the body limit and the JSON edge check, so it sees their 413 and 422, and
    crashes: an exception escaping the app counts as 500, which is what
    the server answers (or, when the response had begun, a response cut short). Labels stay
    bounded: route templates, ``unmatched``, and ``other`` for non-standard methods.
    Feeds ``dispatch_http_requests_total`` and ``dispatch_http_request_seconds``.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status: int | None = None

        async def observed_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, observed_send)
        except Exception:
            status = 500
            raise
        finally:
            # None: cancelled before any answer (the server went down or the client left).
            if status is not None:
                method = scope["method"] if scope["method"] in _COUNTED_METHODS else "other"
                route = _route_template(scope)
                HTTP_REQUESTS.labels(method, route, str(status)).inc()
                HTTP_SECONDS.labels(method, route).observe(time.perf_counter() - started)


def _renderable(error: dict[str, Any]) -> Any:
    """One validation error as a JSON answer can carry it.

    Without its ``input`` and ``ctx`` when those cannot be encoded: a body sent under another
    content type reaches validation as bytes, which need not be UTF-8.
    """
    try:
        encoded = jsonable_encoder(error)
        json.dumps(encoded, allow_nan=False, ensure_ascii=False).encode("utf-8")
    except ValueError:  # UnicodeError is one
        return jsonable_encoder({key: value for key, value in error.items() if key not in ("input", "ctx")})
    return encoded


def get_runtime(request: Request) -> ServiceRuntime:
    """The process's runtime (engine, Kafka link, outbox), for route dependencies."""
    runtime: ServiceRuntime = request.app.state.runtime
    return runtime


RuntimeDep = Annotated[ServiceRuntime, Depends(get_runtime)]

DOCS_ASSETS = "/docs/assets"
"""Where each service serves Swagger UI's and ReDoc's files for ``/docs`` and ``/redoc``."""


def create_service_app(
    *, title: str, description: str, settings: ServiceSettings, lifespan: Lifespan
) -> FastAPI:
    """A FastAPI app with the probes, metrics and limits every service has.

    Every response is counted (``MetricsMiddleware``); bodies over ``settings.max_body_bytes`` are
    a 413 (``BodyLimitMiddleware``); JSON values no field can hold as sent are a 422 naming the
    field (``JsonEdgeMiddleware``); a database outage is a 503 with ``Retry-After``. Every error
    answer is an ``ErrorBody`` (``dispatch_shared.errors``): a ``DomainError`` raised anywhere
    becomes its status here. ``/openapi.json`` is completed by ``dispatch_shared.openapi`` (bearer
    scheme, error answers, servers, licence) and ``/asyncapi.json`` serves the event contract.
    ``/docs`` (Swagger UI) and ``/redoc`` load their scripts, styles and icon from ``DOCS_ASSETS``
    on the service itself (shipped by ``fastapi-offline``), so they work with no internet access.
    """
    configure_logging(settings.service_name, settings.log_level)
    app = FastAPIOffline(
        title=title,
        description=description,
        version="1.0.0",
        lifespan=lifespan,
        static_url=DOCS_ASSETS,
        # No call out to the online validator on swagger.io: it is unreachable offline.
        swagger_ui_parameters={"validatorUrl": None},
    )
    install_openapi(app, settings=settings)
    app.state.settings = settings
    app.state.keyring = KeyRing(load_api_keys(settings))

    # Added innermost first: metrics see every answer, the body limit runs before the JSON check.
    app.add_middleware(JsonEdgeMiddleware)
    app.add_middleware(BodyLimitMiddleware, max_bytes=settings.max_body_bytes)
    app.add_middleware(MetricsMiddleware)
    install_tracing(app, settings.service_name)  # outermost: every answer has a trace id

    @app.exception_handler(RequestValidationError)
    async def unprocessable(_request: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler fails (500) on an input it cannot encode; this one leaves it out.
        return JSONResponse({"detail": [_renderable(error) for error in exc.errors()]}, status_code=422)

    @app.exception_handler(DomainError)
    async def refused(_request: Request, exc: DomainError) -> JSONResponse:
        # Domain code raises; this is the one place its errors become an answer (ErrorBody).
        return JSONResponse(exc.body().wire(), status_code=exc.status_code)

    @app.exception_handler(OperationalError)
    async def database_unavailable(_request: Request, exc: OperationalError) -> JSONResponse:
        # The database is away (restart, failover): nothing was stored; the client should retry.
        log.warning("database unavailable", extra={"error": exc.__class__.__name__})
        return JSONResponse(
            ErrorBody(detail="database unavailable, retry shortly").wire(),
            status_code=503,
            headers={"Retry-After": "1"},
        )

    @app.get("/healthz", tags=["ops"], summary="Liveness: the process answers")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/readyz", tags=["ops"], summary="Readiness: database and consumer (Kafka reported, not gating)")
    async def readyz(request: Request) -> JSONResponse:
        runtime: ServiceRuntime | None = getattr(request.app.state, "runtime", None)
        checks = await runtime.readiness() if runtime else {"runtime": "starting"}
        ready = runtime is not None and is_ready(checks)
        return JSONResponse(
            {"status": "ready" if ready else "not_ready", "checks": checks},
            status_code=200 if ready else 503,
        )

    @app.get("/metrics", tags=["ops"], summary="Prometheus metrics", response_class=Response)
    async def metrics() -> Response:
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    events_document = asyncapi_document(settings)

    @app.get(
        "/asyncapi.json",
        tags=["ops"],
        summary="AsyncAPI 3.0 document of the Kafka topics: channels, keys, CloudEvents headers, payloads",
    )
    async def asyncapi() -> dict[str, Any]:
        return events_document

    return app


def serve(app: FastAPI, settings: ServiceSettings) -> None:
    """Run the app under uvicorn; SIGTERM and Ctrl-C shut down gracefully through the lifespan."""
    uvicorn.run(
        app,
        host=settings.host,
        port=settings.port,
        log_config=None,
        access_log=False,
        timeout_graceful_shutdown=15,
    )
