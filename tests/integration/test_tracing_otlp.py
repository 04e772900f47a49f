"""With ``OTEL_EXPORTER_OTLP_ENDPOINT`` set, a service's spans reach an OTLP receiver.

The receiver is a small HTTP server on a free port that decodes what the SDK's OTLP/HTTP exporter
posts to ``/v1/traces`` (protobuf), so the whole chain is real: the environment variable, the
service app's set-up, the batching exporter and the wire format.
"""

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from dispatch_shared import tracing
from dispatch_shared.http import create_service_app
from dispatch_shared.settings import ServiceSettings
from fastapi import FastAPI
from fastapi.testclient import TestClient
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

pytestmark = pytest.mark.integration

TRACE_ID = "5b8efff798038103d269b633813fc60c"
PARENT_SPAN_ID = "eee19b7ec3c1b174"


class Receiver(BaseHTTPRequestHandler):
    """Keeps every OTLP/HTTP trace export posted to it, decoded."""

    received: list[ExportTraceServiceRequest] = []

    def do_POST(self) -> None:  # noqa: N802 - the name http.server calls
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.path == "/v1/traces":
            self.received.append(ExportTraceServiceRequest.FromString(body))
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - the base class's name
        pass


@pytest.fixture
def receiver() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    received: list[ExportTraceServiceRequest] = []
    handler = type("OwnReceiver", (Receiver,), {"received": received})
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", received
    server.shutdown()
    server.server_close()


@asynccontextmanager
async def no_resources(_app: FastAPI) -> AsyncIterator[None]:
    yield


def test_a_services_request_span_is_exported_over_otlp(
    receiver: tuple[str, list[ExportTraceServiceRequest]], monkeypatch: pytest.MonkeyPatch
) -> None:
    endpoint, received = receiver
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", raising=False)
    monkeypatch.delenv("OTEL_EXPORTER_OTLP_PROTOCOL", raising=False)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    settings = ServiceSettings(service_name="otlp-test", api_keys=f"ops:{'o' * 20}")
    try:
        app = create_service_app(
            title="otlp", description="test app", settings=settings, lifespan=no_resources
        )
        assert tracing.exporting()
        with TestClient(app) as client:
            answer = client.get("/healthz", headers={"traceparent": f"00-{TRACE_ID}-{PARENT_SPAN_ID}-01"})
        assert answer.headers["x-trace-id"] == TRACE_ID
    finally:
        tracing.stop_export()  # flushes the batch
    spans = [
        (resource_spans.resource, span)
        for request in received
        for resource_spans in request.resource_spans
        for scope_spans in resource_spans.scope_spans
        for span in scope_spans.spans
    ]
    [(resource, span)] = spans
    assert {kv.key: kv.value.string_value for kv in resource.attributes}["service.name"] == "otlp-test"
    assert (span.trace_id.hex(), span.parent_span_id.hex(), span.name) == (
        TRACE_ID,
        PARENT_SPAN_ID,
        "GET /healthz",
    )
