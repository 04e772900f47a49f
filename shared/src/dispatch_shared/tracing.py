"""W3C Trace Context through HTTP, the outbox and Kafka; OpenTelemetry export when configured.

One trace follows a call from the CAD system's request to the last event about it:

* HTTP: a request's ``traceparent`` header (W3C Trace Context, version 00) is the parent of the
  request's span; a missing or malformed one starts a new trace. Every response carries the
  trace id in ``X-Trace-Id`` (``TraceMiddleware``).
* Outbox: ``Outbox.add`` stores the ``traceparent`` of the span current in the writing
  transaction, and the relay sends it as the CloudEvents Distributed Tracing extension
  attribute, which the Kafka binding carries as the ``ce_traceparent`` header.
* Kafka: a consumer handles each record in a span whose parent is the record's
  ``ce_traceparent`` (or a plain ``traceparent`` header), so the events the handler writes
  continue the same trace with a new span id.

The current span is a ``ContextVar`` (``current_trace``); log lines read it (``trace_id``,
``span_id``). Our own code is the propagation mechanism whether or not spans are exported, so
without an exporter a span costs a header parse, two random numbers and a context variable.
The OpenTelemetry SDK and exporters are imported only by ``start_export``, which
``install_tracing`` calls when ``OTEL_EXPORTER_OTLP_ENDPOINT`` (or
``OTEL_EXPORTER_OTLP_TRACES_ENDPOINT``) is set; the SDK then gives every span its ids and exports
HTTP request, outbox send and consumer spans over OTLP. Its tracer provider is deliberately not
made the global one: FastAPI's own telemetry (which reads the global provider) stays off, so a
request has one server span, and no exception message (which may quote a narrative) is recorded.
``tracestate`` is not carried.
"""

from __future__ import annotations

import logging
import os
import random
import re
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from contextvars import ContextVar, Token
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:  # imported at run time only when export is on
    from fastapi import FastAPI
    from opentelemetry.sdk.trace import SpanProcessor, TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter
    from opentelemetry.trace import Span as OtelSpan
    from opentelemetry.trace import Tracer

__all__ = [
    "KAFKA_HEADER",
    "TRACE_ID_HEADER",
    "Span",
    "TraceContext",
    "TraceMiddleware",
    "begin_sends",
    "begin_span",
    "current_trace",
    "current_traceparent",
    "export_configured",
    "end_sends",
    "exporting",
    "handling_span",
    "install_tracing",
    "parent_from_headers",
    "parse_traceparent",
    "span",
    "start_export",
    "stop_export",
]

log = logging.getLogger(__name__)

SpanKind = Literal["internal", "server", "producer", "consumer"]
Attributes = Mapping[str, str | int]

TRACE_ID_HEADER = "x-trace-id"
"""The response header that names the request's trace id (32 lowercase hex digits)."""
_TRACE_ID_HEADER_BYTES = TRACE_ID_HEADER.encode()
KAFKA_HEADER = "ce_traceparent"
"""The CloudEvents Distributed Tracing extension attribute ``traceparent`` in Kafka binary mode."""

_VERSION_00_LENGTH = 55
_TRACEPARENT = re.compile(r"([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE_ID = "0" * 32
_ZERO_SPAN_ID = "0" * 16


def _random_id(bits: int) -> str:
    """A random non-zero id of ``bits`` bits as lowercase hex (not for secrets: ids only)."""
    while True:
        value = random.getrandbits(bits)
        if value:
            return f"{value:0{bits // 4}x}"


@dataclass(frozen=True, slots=True)
class TraceContext:
    """One span's place in a trace: ``trace_id`` (32 hex), ``span_id`` (16 hex), ``sampled``."""

    trace_id: str
    span_id: str
    sampled: bool = True

    @classmethod
    def new(cls) -> TraceContext:
        """The first span of a new trace, sampled."""
        return cls(_random_id(128), _random_id(64))

    def child(self) -> TraceContext:
        """A new span in the same trace (same trace id and sampling, new span id)."""
        return TraceContext(self.trace_id, _random_id(64), self.sampled)

    @property
    def traceparent(self) -> str:
        """The W3C ``traceparent`` value (version 00) naming this span as the parent."""
        return f"00-{self.trace_id}-{self.span_id}-{'01' if self.sampled else '00'}"


def parse_traceparent(value: str | bytes | None) -> TraceContext | None:
    """The parent a W3C ``traceparent`` value names; None when absent or malformed.

    Follows the Trace Context rules: lowercase hex fields ``version-trace_id-parent_id-flags``;
    version ``ff`` is invalid; version 00 is exactly 55 characters; a later version may append
    fields after a dash, which are ignored; an all-zero trace id or parent id is invalid. Only
    the sampled flag is kept. Surrounding spaces and tabs are allowed.
    """
    if value is None:
        return None
    if isinstance(value, bytes):
        try:
            value = value.decode("ascii")
        except UnicodeDecodeError:
            return None
    value = value.strip(" \t")
    match = _TRACEPARENT.match(value)
    if match is None:
        return None
    version, trace_id, span_id, flags = match.groups()
    if version == "ff" or trace_id == _ZERO_TRACE_ID or span_id == _ZERO_SPAN_ID:
        return None
    if len(value) > _VERSION_00_LENGTH and (version == "00" or value[_VERSION_00_LENGTH] != "-"):
        return None
    return TraceContext(trace_id, span_id, sampled=bool(int(flags, 16) & 0x01))


def _only(values: Iterable[bytes | None]) -> bytes | None:
    """The one value given; None when there is none, a null one, or several that differ."""
    found: bytes | None = None
    for value in values:
        if value is None or (found is not None and value != found):
            return None
        found = value
    return found


def parent_from_headers(headers: Iterable[tuple[str, bytes | None]]) -> TraceContext | None:
    """The parent a Kafka record names: ``ce_traceparent``, else a plain ``traceparent`` header.

    A header repeated with different values, or null, names no parent (a new trace starts);
    tracing never makes a record fail.
    """
    items = list(headers)
    for name in (KAFKA_HEADER, "traceparent"):
        values = [value for key, value in items if key == name]
        if values:
            return parse_traceparent(_only(values))
    return None


current_trace: ContextVar[TraceContext | None] = ContextVar("current_trace", default=None)
"""The span the running code belongs to; None outside any request, delivery or handling."""


def current_traceparent() -> str | None:
    """The ``traceparent`` of the current span, for what the running code writes; None outside one."""
    context = current_trace.get()
    return None if context is None else context.traceparent


class Span:
    """A span begun by ``begin_span``: current (``current_trace``) until ``end``.

    ``context`` holds its ids. When export is on it is also an OpenTelemetry span, ended and
    exported by ``end``; otherwise ``rename`` and ``set`` do nothing.
    """

    __slots__ = ("_otel", "_token", "context")

    def __init__(self, context: TraceContext, otel: OtelSpan | None, *, current: bool = True) -> None:
        self.context = context
        self._otel = otel
        self._token: Token[TraceContext | None] | None = current_trace.set(context) if current else None

    def rename(self, name: str) -> None:
        """Give the span its final name (an HTTP span learns its route only after routing)."""
        if self._otel is not None:
            self._otel.update_name(name)

    def set(self, key: str, value: str | int) -> None:
        """Record one attribute on the exported span."""
        if self._otel is not None:
            self._otel.set_attribute(key, value)

    def end(self, error: str | None = None, *, end_time: int | None = None) -> None:
        """Stop being current and, when exporting, end the span; ``error``: a short failure class.

        ``end_time`` is in nanoseconds since the epoch (now when None). The error text must never
        quote a message body: narratives are health information.
        """
        if self._token is not None:
            current_trace.reset(self._token)
            self._token = None
        if self._otel is not None:
            if error is not None:
                _export.mark_error(self._otel, error)
            self._otel.end(end_time)
            self._otel = None


def begin_span(
    name: str,
    *,
    parent: TraceContext | None,
    kind: SpanKind = "internal",
    attributes: Attributes | None = None,
    current: bool = True,
) -> Span:
    """Begin a span under ``parent`` (a new trace when None) and make it current unless told not to.

    Call ``end`` in the same context (a ``finally``); ``span`` does both around a block.
    """
    tracer = _export.tracer
    if tracer is None:
        return Span(parent.child() if parent else TraceContext.new(), None, current=current)
    otel = _export.start(tracer, name, parent, kind, attributes)
    ids = otel.get_span_context()
    context = TraceContext(f"{ids.trace_id:032x}", f"{ids.span_id:016x}", bool(ids.trace_flags & 0x01))
    return Span(context, otel, current=current)


@contextmanager
def span(
    name: str,
    *,
    parent: TraceContext | None,
    kind: SpanKind = "internal",
    attributes: Attributes | None = None,
) -> Iterator[Span]:
    """``begin_span`` around a block; an exception escaping it marks the span failed (its class only)."""
    active = begin_span(name, parent=parent, kind=kind, attributes=attributes)
    try:
        yield active
    except BaseException as exc:
        active.end(exc.__class__.__name__)
        raise
    active.end()


def handling_span(topic: str, headers: Sequence[tuple[str, bytes | None]]) -> Span:
    """Begin the span that handles one consumed record, child of the span that wrote it.

    Logs ``handling event`` (topic) at DEBUG in the new span, so a trace can be followed in the
    logs of every service it reaches.
    """
    attributes: Attributes | None = None
    if _export.tracer is not None:
        attributes = {"messaging.system": "kafka", "messaging.destination.name": topic}
    handling = begin_span(
        f"process {topic}", parent=parent_from_headers(headers), kind="consumer", attributes=attributes
    )
    log.debug("handling event", extra={"topic": topic})
    return handling


class Traced(Protocol):
    """What the relay knows of an outbox row when it sends it."""

    @property
    def topic(self) -> str: ...

    @property
    def event_id(self) -> str: ...

    @property
    def traceparent(self) -> str | None: ...


def begin_sends(rows: Sequence[Traced]) -> list[Span]:
    """One producer span per row about to be sent, under the span that wrote it; none unless exporting.

    The spans are not made current: a batch mixes traces. End them with ``end_sends``.
    """
    if _export.tracer is None:
        return []
    return [
        begin_span(
            f"send {row.topic}",
            parent=parse_traceparent(row.traceparent),
            kind="producer",
            attributes={
                "messaging.system": "kafka",
                "messaging.destination.name": row.topic,
                "messaging.message.id": row.event_id,
            },
            current=False,
        )
        for row in rows
    ]


def end_sends(spans: Sequence[Span], acknowledged: Sequence[bool]) -> None:
    """End ``begin_sends``' spans; a row the broker did not acknowledge marks its span failed."""
    for sent, ok in zip(spans, acknowledged, strict=False):
        sent.end(None if ok else "not_acknowledged")


class TraceMiddleware:
    """Runs every HTTP request in a server span and answers its trace id in ``X-Trace-Id``.

    The parent is the request's ``traceparent`` header; when it is absent, malformed or repeated
    with different values, a new trace starts. Added outermost, so the body limit's 413 and the
    JSON check's 422 are traced too. Each request is logged at DEBUG (``http request``: method,
    route template, status, duration_ms) in its span.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        parent = parse_traceparent(_only(value for name, value in scope["headers"] if name == b"traceparent"))
        method: str = scope["method"]
        started = time.perf_counter()
        active = begin_span(method, parent=parent, kind="server")
        trace_id = active.context.trace_id.encode()
        status = 500

        async def send_with_trace_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {
                    **message,
                    "headers": [*message.get("headers", ()), (_TRACE_ID_HEADER_BYTES, trace_id)],
                }
            await send(message)

        error: str | None = None
        try:
            await self.app(scope, receive, send_with_trace_id)
        except BaseException as exc:
            error = exc.__class__.__name__
            raise
        finally:
            route = getattr(scope.get("route"), "path", None)
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "http request",
                    extra={
                        "method": method,
                        "route": route if isinstance(route, str) else "unmatched",
                        "status": status,
                        "duration_ms": round((time.perf_counter() - started) * 1000, 3),
                    },
                )
            if _export.tracer is not None:
                active.rename(f"{method} {route}" if isinstance(route, str) else method)
                active.set("http.request.method", method)
                active.set("url.path", scope["path"])
                active.set("http.response.status_code", status)
                if isinstance(route, str):
                    active.set("http.route", route)
            active.end(error or (str(status) if status >= 500 else None))


def export_configured(environ: Mapping[str, str] | None = None) -> bool:
    """Whether the environment asks for OTLP export: an OTLP (traces) endpoint is set and the SDK
    is not disabled (``OTEL_SDK_DISABLED=true``)."""
    env = os.environ if environ is None else environ
    endpoint = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    return bool(endpoint) and env.get("OTEL_SDK_DISABLED", "").strip().lower() != "true"


def install_tracing(app: FastAPI, service_name: str) -> None:
    """Trace the app's requests (``TraceMiddleware``, outermost) and start export when configured."""
    app.add_middleware(TraceMiddleware)
    if export_configured():
        start_export(service_name)


def exporting() -> bool:
    """Whether spans are being exported."""
    return _export.tracer is not None


def start_export(service_name: str, processor: SpanProcessor | None = None) -> None:
    """Export spans with the OpenTelemetry SDK from now on; does nothing when already exporting.

    ``processor`` defaults to a batching OTLP exporter configured by the standard ``OTEL_*``
    variables (endpoint, headers, timeout; ``OTEL_EXPORTER_OTLP_PROTOCOL`` ``grpc`` or the
    default ``http/protobuf``; sampler ``OTEL_TRACES_SAMPLER``). The resource's ``service.name``
    is ``service_name`` unless ``OTEL_SERVICE_NAME`` names another. Pending spans are flushed at
    exit.
    """
    if _export.tracer is None:
        _export.begin(service_name, processor)


def stop_export() -> None:
    """Flush and stop exporting; spans are plain W3C contexts again."""
    _export.shutdown()


class _Exporter:
    """The OpenTelemetry side, imported and built only by ``start_export``."""

    def __init__(self) -> None:
        self.tracer: Tracer | None = None
        self.provider: TracerProvider | None = None

    def begin(self, service_name: str, processor: SpanProcessor | None) -> None:
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor

        named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service_name}
        provider = TracerProvider(resource=Resource.create(named))
        provider.add_span_processor(processor or BatchSpanProcessor(_otlp_exporter()))
        self.provider = provider
        self.tracer = provider.get_tracer("dispatch_shared.tracing")

    def shutdown(self) -> None:
        if self.provider is not None:
            self.provider.shutdown()
        self.provider = None
        self.tracer = None

    @staticmethod
    def start(
        tracer: Tracer, name: str, parent: TraceContext | None, kind: SpanKind, attributes: Attributes | None
    ) -> OtelSpan:
        from opentelemetry import trace
        from opentelemetry.context import Context

        context = Context()
        if parent is not None:
            remote = trace.SpanContext(
                int(parent.trace_id, 16),
                int(parent.span_id, 16),
                is_remote=True,
                trace_flags=trace.TraceFlags(0x01 if parent.sampled else 0x00),
            )
            context = trace.set_span_in_context(trace.NonRecordingSpan(remote), context)
        return tracer.start_span(
            name, context=context, kind=trace.SpanKind[kind.upper()], attributes=attributes
        )

    @staticmethod
    def mark_error(otel: OtelSpan, error: str) -> None:
        from opentelemetry.trace import Status, StatusCode

        otel.set_status(Status(StatusCode.ERROR, error))


def _otlp_exporter() -> SpanExporter:
    protocol = os.environ.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL") or os.environ.get(
        "OTEL_EXPORTER_OTLP_PROTOCOL", "http/protobuf"
    )
    if protocol.strip().lower() == "grpc":
        from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import OTLPSpanExporter as GrpcExporter

        return GrpcExporter()
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter as HttpExporter

    return HttpExporter()


_export = _Exporter()
