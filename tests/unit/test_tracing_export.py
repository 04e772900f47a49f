"""Spans exported with the OpenTelemetry SDK: the ids logs and headers show are the exported ones.

Export is started with the SDK's in-memory exporter behind a synchronous processor, so each span is
readable as soon as it ends. Checked: a span continues its W3C parent; an HTTP request is one
server span named by its route; the relay sends each row in a producer span under the span that
wrote it; a consumed record is handled in a consumer span under its ``ce_traceparent``; failures
are marked by class, never by message.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from dispatch_shared import tracing
from dispatch_shared.cloudevents import KafkaMessage, encode
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallStatus
from dispatch_shared.http import create_service_app
from dispatch_shared.kafka import Delivery
from dispatch_shared.outbox import Outbox, OutboxRelay
from dispatch_shared.settings import ServiceSettings
from dispatch_shared.tracing import TraceContext, parse_traceparent
from fastapi import FastAPI
from fastapi.testclient import TestClient
from intake.app import MIGRATIONS
from intake.models import IntakeOutbox
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import SpanKind, StatusCode
from sqlalchemy.engine import Engine

from tests.factories import T0, new_call_id, status_changed

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
VALID = f"00-{TRACE_ID}-{SPAN_ID}-01"


@pytest.fixture
def exported() -> Iterator[InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    tracing.start_export("test-service", SimpleSpanProcessor(exporter))
    yield exporter
    tracing.stop_export()


def ids(span: ReadableSpan) -> TraceContext:
    context = span.get_span_context()
    assert context is not None
    return TraceContext(f"{context.trace_id:032x}", f"{context.span_id:016x}")


def parent_span_id(span: ReadableSpan) -> str | None:
    return None if span.parent is None else f"{span.parent.span_id:016x}"


def test_an_exported_span_continues_its_parent_with_the_ids_logs_show(exported: InMemorySpanExporter) -> None:
    with tracing.span("work", parent=parse_traceparent(VALID)) as work:
        seen = tracing.current_trace.get()
    [span] = exported.get_finished_spans()
    assert seen == work.context == ids(span)
    assert (ids(span).trace_id, parent_span_id(span)) == (TRACE_ID, SPAN_ID)
    assert span.resource.attributes["service.name"] == "test-service"


def test_a_new_trace_is_a_root_span(exported: InMemorySpanExporter) -> None:
    with tracing.span("work", parent=None) as work:
        pass
    [span] = exported.get_finished_spans()
    assert span.parent is None and ids(span) == work.context and work.context.trace_id != TRACE_ID


def test_a_failure_is_marked_by_its_class_never_its_message(exported: InMemorySpanExporter) -> None:
    with pytest.raises(ValueError), tracing.span("work", parent=None):
        raise ValueError("caller says: narrative text")
    [span] = exported.get_finished_spans()
    assert (span.status.status_code, span.status.description) == (StatusCode.ERROR, "ValueError")
    assert not span.events  # no exception event, which would quote the message


@asynccontextmanager
async def no_resources(_app: FastAPI) -> AsyncIterator[None]:
    yield


def test_a_request_is_one_server_span_named_by_its_route(exported: InMemorySpanExporter) -> None:
    settings = ServiceSettings(service_name="traced", api_keys=f"ops:{'o' * 20}")
    app = create_service_app(title="traced", description="test app", settings=settings, lifespan=no_resources)

    @app.get("/v1/calls/{call_id}")
    def call(call_id: str) -> dict[str, str]:
        return {"call_id": call_id}

    @app.get("/v1/broken")
    def broken() -> dict[str, str]:
        raise RuntimeError("broken")

    with TestClient(app, raise_server_exceptions=False) as client:
        answer = client.get("/v1/calls/abc", headers={"traceparent": VALID})
        failed = client.get("/v1/broken")
    served, crashed = exported.get_finished_spans()
    assert served.name == "GET /v1/calls/{call_id}" and served.kind is SpanKind.SERVER
    assert (answer.headers["x-trace-id"], parent_span_id(served)) == (TRACE_ID, SPAN_ID)
    assert ids(served).trace_id == TRACE_ID
    assert served.attributes is not None
    assert dict(served.attributes) == {
        "http.request.method": "GET",
        "url.path": "/v1/calls/abc",
        "http.response.status_code": 200,
        "http.route": "/v1/calls/{call_id}",
    }
    assert served.status.status_code is StatusCode.UNSET
    assert (crashed.name, crashed.status.status_code) == ("GET /v1/broken", StatusCode.ERROR)
    assert failed.status_code == 500 and ids(crashed).trace_id != TRACE_ID


class RefusingLink:
    """Stands in for ``KafkaLink`` in the relay: refuses the messages whose key is in ``refused``."""

    def __init__(self, refused: set[bytes]) -> None:
        self.refused = refused

    @property
    def connected(self) -> bool:
        return True

    def topic_name(self, topic: str) -> str:
        return topic

    async def deliver(self, messages: Sequence[KafkaMessage], *, timeout: float | None = None) -> Delivery:
        acknowledged = tuple(message.key not in self.refused for message in messages)
        return Delivery(acknowledged, None)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine, migrations_dir=MIGRATIONS, service="intake")
    yield engine
    engine.dispose()


async def test_the_relay_sends_each_row_in_a_producer_span_under_its_writer(
    engine: Engine, exported: InMemorySpanExporter
) -> None:
    outbox = Outbox(IntakeOutbox, source="/dispatch/intake")
    sent_call, refused_call = new_call_id(), new_call_id()
    with tracing.span("request", parent=parse_traceparent(VALID)) as request, transaction(engine) as session:
        outbox.add(session, status_changed(sent_call, CallStatus.EN_ROUTE, T0))
    with tracing.span("other request", parent=None) as other, transaction(engine) as session:
        outbox.add(session, status_changed(refused_call, CallStatus.EN_ROUTE, T0))
    exported.clear()

    relay = OutboxRelay(engine, IntakeOutbox, RefusingLink({str(refused_call).encode()}), poll_seconds=0.05)
    assert await relay.deliver_once() == 1
    sent, refused = exported.get_finished_spans()
    assert {sent.kind, refused.kind} == {SpanKind.PRODUCER}
    assert sent.name == "send dispatch.calls.status.v1"
    assert (ids(sent).trace_id, parent_span_id(sent)) == (TRACE_ID, request.context.span_id)
    assert (ids(refused).trace_id, parent_span_id(refused)) == (other.context.trace_id, other.context.span_id)
    assert (sent.status.status_code, refused.status.status_code) == (StatusCode.UNSET, StatusCode.ERROR)
    assert tracing.current_trace.get() is None  # sending makes no span current


def test_a_consumed_record_is_handled_in_a_consumer_span_under_its_writer(
    exported: InMemorySpanExporter,
) -> None:
    with tracing.span("writer", parent=None) as writer:
        message = encode(status_changed(new_call_id(), CallStatus.EN_ROUTE, T0), source="/test")
    handling = tracing.handling_span("dispatch.calls.status.v1", message.headers)
    inside = tracing.current_trace.get()
    handling.end()
    span = exported.get_finished_spans()[-1]
    assert span.kind is SpanKind.CONSUMER and span.name == "process dispatch.calls.status.v1"
    assert inside == ids(span)
    assert (ids(span).trace_id, parent_span_id(span)) == (writer.context.trace_id, writer.context.span_id)
    assert tracing.current_trace.get() is None
