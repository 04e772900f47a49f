"""W3C Trace Context: parsing, formatting, and propagation through logs, HTTP, events and the outbox.

The ``traceparent`` rules checked are the W3C Trace Context ones (malformed, version ``ff``,
all-zero ids, uppercase, wrong lengths: a new trace), the HTTP side goes through an app made by
``create_service_app`` (the middleware every service has), and the outbox side through a real
SQLite outbox and the relay. Nothing here exports spans; tests/unit/test_tracing_export.py does.
"""

from __future__ import annotations

import json
import logging
import os
import re
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from dispatch_shared import tracing
from dispatch_shared.cloudevents import FaultReason, KafkaMessage, RecordFault, decode, encode
from dispatch_shared.consumer import dead_letter_message
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallStatus
from dispatch_shared.http import create_service_app
from dispatch_shared.kafka import Delivery
from dispatch_shared.logs import JsonFormatter
from dispatch_shared.outbox import Outbox, OutboxRelay
from dispatch_shared.settings import ServiceSettings
from dispatch_shared.tracing import TraceContext, parse_traceparent
from fastapi import FastAPI
from fastapi.testclient import TestClient
from intake.app import MIGRATIONS
from intake.models import IntakeOutbox
from sqlalchemy.engine import Engine
from sqlmodel import select

from tests.factories import T0, new_call_id, status_changed

TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN_ID = "00f067aa0ba902b7"
VALID = f"00-{TRACE_ID}-{SPAN_ID}-01"
HEX32 = re.compile(r"[0-9a-f]{32}")
HEX16 = re.compile(r"[0-9a-f]{16}")


# --- parsing and formatting -------------------------------------------------------------------


def test_a_version_00_traceparent_names_its_trace_span_and_sampling() -> None:
    assert parse_traceparent(VALID) == TraceContext(TRACE_ID, SPAN_ID, sampled=True)
    assert parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-00") == TraceContext(TRACE_ID, SPAN_ID, sampled=False)
    # Bytes as Kafka and ASGI give them, surrounding whitespace, flags with unknown bits set.
    assert parse_traceparent(f" \t{VALID}\t".encode()) == TraceContext(TRACE_ID, SPAN_ID)
    assert parse_traceparent(f"00-{TRACE_ID}-{SPAN_ID}-03") == TraceContext(TRACE_ID, SPAN_ID, sampled=True)


def test_a_later_version_is_read_for_its_version_00_fields() -> None:
    assert parse_traceparent(f"cc-{TRACE_ID}-{SPAN_ID}-01") == TraceContext(TRACE_ID, SPAN_ID)
    assert parse_traceparent(f"cc-{TRACE_ID}-{SPAN_ID}-01-what-comes-next") == TraceContext(TRACE_ID, SPAN_ID)


@pytest.mark.parametrize(
    "value",
    [
        pytest.param(None, id="absent"),
        pytest.param("", id="empty"),
        pytest.param("not a traceparent", id="garbage"),
        pytest.param(f"ff-{TRACE_ID}-{SPAN_ID}-01", id="version-ff"),
        pytest.param(f"00-{'0' * 32}-{SPAN_ID}-01", id="zero-trace-id"),
        pytest.param(f"00-{TRACE_ID}-{'0' * 16}-01", id="zero-parent-id"),
        pytest.param(VALID.upper(), id="uppercase"),
        pytest.param(f"00-{TRACE_ID[:-1]}-{SPAN_ID}-01", id="short-trace-id"),
        pytest.param(f"00-{TRACE_ID}-{SPAN_ID}0-01", id="long-parent-id"),
        pytest.param(f"00-{TRACE_ID}-{SPAN_ID}-1", id="short-flags"),
        pytest.param(f"00-{TRACE_ID}-{SPAN_ID}-01-extra", id="version-00-with-more"),
        pytest.param(f"cc-{TRACE_ID}-{SPAN_ID}-01.extra", id="later-version-without-dash"),
        pytest.param(f"00_{TRACE_ID}_{SPAN_ID}_01", id="wrong-separators"),
        pytest.param(f"00-{TRACE_ID[:-1]}g-{SPAN_ID}-01", id="not-hex"),
        pytest.param(f"{VALID},{VALID}", id="two-joined"),
        pytest.param(b"00-\xff" + VALID[4:].encode(), id="not-ascii"),
    ],
)
def test_a_malformed_traceparent_names_no_parent(value: str | bytes | None) -> None:
    assert parse_traceparent(value) is None


def test_a_new_trace_has_random_non_zero_ids_and_a_child_keeps_the_trace() -> None:
    first, second = TraceContext.new(), TraceContext.new()
    assert HEX32.fullmatch(first.trace_id) and HEX16.fullmatch(first.span_id)
    assert first.trace_id != second.trace_id and first.span_id != second.span_id
    child = first.child()
    assert (child.trace_id, child.sampled) == (first.trace_id, first.sampled)
    assert child.span_id != first.span_id
    # What we write is what we read back.
    assert parse_traceparent(child.traceparent) == child
    assert len(child.traceparent) == 55
    unsampled = TraceContext(TRACE_ID, SPAN_ID, sampled=False)
    assert unsampled.traceparent == f"00-{TRACE_ID}-{SPAN_ID}-00"
    assert not unsampled.child().sampled


def test_a_kafka_record_names_its_parent_in_ce_traceparent_else_traceparent() -> None:
    other = f"00-{'1' * 32}-{'2' * 16}-01"
    parent = tracing.parent_from_headers
    assert parent([("ce_traceparent", VALID.encode()), ("traceparent", other.encode())]) == TraceContext(
        TRACE_ID, SPAN_ID
    )
    assert parent([("traceparent", other.encode())]) == TraceContext("1" * 32, "2" * 16)
    assert parent([("ce_traceparent", VALID.encode()), ("ce_traceparent", VALID.encode())]) is not None
    # Repeated with another value, null, or malformed: no parent, however good the plain header is.
    assert parent([("ce_traceparent", VALID.encode()), ("ce_traceparent", other.encode())]) is None
    assert parent([("ce_traceparent", None), ("traceparent", other.encode())]) is None
    assert parent([("ce_traceparent", b"garbage"), ("traceparent", other.encode())]) is None
    assert parent([("ce_id", b"x")]) is None


# --- the current span -------------------------------------------------------------------------


def test_a_span_is_current_in_its_block_and_continues_its_parent() -> None:
    assert tracing.current_trace.get() is None
    with tracing.span("outer", parent=parse_traceparent(VALID)) as outer:
        assert tracing.current_trace.get() == outer.context
        assert (outer.context.trace_id, outer.context.span_id != SPAN_ID) == (TRACE_ID, True)
        assert tracing.current_traceparent() == outer.context.traceparent
        with tracing.span("inner", parent=tracing.current_trace.get()) as inner:
            assert inner.context.trace_id == TRACE_ID
            assert inner.context.span_id not in (SPAN_ID, outer.context.span_id)
        assert tracing.current_trace.get() == outer.context
    assert tracing.current_trace.get() is None
    with pytest.raises(ValueError), tracing.span("failing", parent=None):
        raise ValueError("boom")
    assert tracing.current_traceparent() is None


def log_line(message: str) -> dict[str, object]:
    record = logging.LogRecord("test", logging.INFO, __file__, 1, message, (), None)
    entry: dict[str, object] = json.loads(JsonFormatter("test").format(record))
    return entry


def test_every_log_line_in_a_span_carries_its_trace_and_span_ids() -> None:
    outside = log_line("outside")
    assert "trace_id" not in outside and "span_id" not in outside
    with tracing.span("work", parent=parse_traceparent(VALID)) as work:
        inside = log_line("inside")
    assert (inside["trace_id"], inside["span_id"]) == (TRACE_ID, work.context.span_id)


# --- events and the outbox --------------------------------------------------------------------


def headers_of(message: KafkaMessage) -> dict[str, bytes | None]:
    return dict(message.headers)


def test_an_event_encoded_in_a_span_carries_it_as_ce_traceparent() -> None:
    event = status_changed(new_call_id(), CallStatus.EN_ROUTE, T0)
    assert "ce_traceparent" not in headers_of(encode(event, source="/test"))
    with tracing.span("work", parent=None) as work:
        message = encode(event, source="/test")
    assert headers_of(message)["ce_traceparent"] == work.context.traceparent.encode()
    # An extension attribute: decoding is unchanged, with it or with a malformed one.
    assert decode(message.headers, message.value).event == event
    garbled = [(name, b"garbage" if name == "ce_traceparent" else value) for name, value in message.headers]
    assert decode(garbled, message.value).event == event


def test_a_dead_lettered_record_keeps_its_trace_context() -> None:
    with tracing.span("work", parent=None):
        message = encode(status_changed(new_call_id(), CallStatus.EN_ROUTE, T0), source="/test")
    parked = dead_letter_message(
        topic="t",
        partition=0,
        offset=7,
        key=message.key,
        value=b"{",
        headers=list(message.headers),
        fault=RecordFault(FaultReason.INVALID_BODY, "bad"),
        group_id="g",
    )
    assert headers_of(parked)["ce_traceparent"] == headers_of(message)["ce_traceparent"]


class RecordingLink:
    """Stands in for ``KafkaLink`` in the relay: acknowledges everything and keeps the messages."""

    def __init__(self) -> None:
        self.messages: list[KafkaMessage] = []

    @property
    def connected(self) -> bool:
        return True

    def topic_name(self, topic: str) -> str:
        return topic

    async def deliver(self, messages: Sequence[KafkaMessage], *, timeout: float | None = None) -> Delivery:
        self.messages += messages
        return Delivery((True,) * len(messages), None)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'outbox.db'}")
    migrate(engine, migrations_dir=MIGRATIONS, service="intake")
    yield engine
    engine.dispose()


async def test_the_outbox_keeps_the_writers_trace_and_the_relay_sends_it(engine: Engine) -> None:
    """The row stores the span current in the writing transaction; the relay, later and outside
    any span, sends it as the last header; a row written outside a span is sent without one."""
    outbox = Outbox(IntakeOutbox, source="/dispatch/intake")
    with tracing.span("request", parent=parse_traceparent(VALID)) as request:
        with transaction(engine) as session:
            traced = outbox.add(session, status_changed(new_call_id(), CallStatus.EN_ROUTE, T0))
    with transaction(engine) as session:
        untraced = outbox.add(session, status_changed(new_call_id(), CallStatus.ON_SCENE, T0))
    with transaction(engine) as session:
        stored = {row.event_id: row.traceparent for row in session.exec(select(IntakeOutbox))}
    assert stored == {traced: request.context.traceparent, untraced: None}

    link = RecordingLink()
    assert await OutboxRelay(engine, IntakeOutbox, link, poll_seconds=0.05).deliver_once() == 2
    by_id = {headers_of(m)["ce_id"]: m for m in link.messages}
    assert list(by_id[traced.encode()].headers)[-1] == (
        "ce_traceparent",
        request.context.traceparent.encode(),
    )
    assert [name for name, _ in by_id[untraced.encode()].headers] == [
        "ce_specversion",
        "ce_id",
        "ce_source",
        "ce_type",
        "ce_time",
        "content-type",
    ]


# --- HTTP -------------------------------------------------------------------------------------


@asynccontextmanager
async def no_resources(_app: FastAPI) -> AsyncIterator[None]:
    yield


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    settings = ServiceSettings(service_name="traced", api_keys=f"ops:{'o' * 20}", max_body_bytes=1024)
    app = create_service_app(title="traced", description="test app", settings=settings, lifespan=no_resources)

    @app.get("/v1/where")
    def where() -> dict[str, str | None]:
        # A sync route runs in a worker thread, as the routes that write the outbox do.
        current = tracing.current_trace.get()
        if current is None:
            return {"trace_id": None, "span_id": None}
        return {"trace_id": current.trace_id, "span_id": current.span_id}

    @app.post("/v1/echo")
    def echo(body: dict[str, int]) -> dict[str, int]:
        return body

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client


def test_a_request_continues_the_callers_trace_and_answers_its_id(client: TestClient) -> None:
    answer = client.get("/v1/where", headers={"traceparent": VALID})
    assert answer.status_code == 200
    assert answer.headers["x-trace-id"] == TRACE_ID
    seen = answer.json()
    assert seen["trace_id"] == TRACE_ID
    assert HEX16.fullmatch(seen["span_id"]) and seen["span_id"] != SPAN_ID


@pytest.mark.parametrize(
    "headers",
    [
        pytest.param([], id="absent"),
        pytest.param([("traceparent", f"ff-{TRACE_ID}-{SPAN_ID}-01")], id="version-ff"),
        pytest.param([("traceparent", f"00-{'0' * 32}-{SPAN_ID}-01")], id="zero-trace-id"),
        pytest.param([("traceparent", "00-abc-def-01")], id="malformed"),
        pytest.param(
            [("traceparent", VALID), ("traceparent", f"00-{'1' * 32}-{SPAN_ID}-01")], id="two-different"
        ),
    ],
)
def test_a_request_without_a_usable_traceparent_starts_a_new_trace(
    client: TestClient, headers: list[tuple[str, str]]
) -> None:
    first = client.get("/v1/where", headers=headers)
    second = client.get("/v1/where", headers=headers)
    ids = [first.headers["x-trace-id"], second.headers["x-trace-id"]]
    assert all(HEX32.fullmatch(trace_id) for trace_id in ids)
    assert ids[0] != ids[1] and TRACE_ID not in ids and "0" * 32 not in ids
    assert [first.json()["trace_id"], second.json()["trace_id"]] == ids


def test_answers_the_shared_middleware_gives_carry_the_trace_id_too(client: TestClient) -> None:
    too_large = client.post("/v1/echo", content=b"[" + b"1," * 2000 + b"1]", headers={"traceparent": VALID})
    assert (too_large.status_code, too_large.headers["x-trace-id"]) == (413, TRACE_ID)
    refused = client.post("/v1/echo", content=b'{"a": NaN}', headers={"content-type": "application/json"})
    assert refused.status_code == 422 and HEX32.fullmatch(refused.headers["x-trace-id"])
    missing = client.get("/v1/nowhere")
    assert missing.status_code == 404 and HEX32.fullmatch(missing.headers["x-trace-id"])


# --- cost when nothing is exported --------------------------------------------------------------


def test_without_an_otlp_endpoint_the_opentelemetry_sdk_is_never_imported() -> None:
    """A service app built, a request served and an event encoded with no ``OTEL_EXPORTER_OTLP_*``
    endpoint leave the OpenTelemetry SDK and exporters unimported (the API is FastAPI's own
    dependency, imported by FastAPI whatever we do)."""
    program = """
import sys
from contextlib import asynccontextmanager
from fastapi.testclient import TestClient
from dispatch_shared.cloudevents import encode
from dispatch_shared.http import create_service_app
from dispatch_shared.settings import ServiceSettings
from tests.factories import T0, new_call_id, status_changed
from dispatch_shared.events import CallStatus

@asynccontextmanager
async def nothing(app):
    yield

settings = ServiceSettings(service_name="plain", api_keys="ops:" + "o" * 20)
app = create_service_app(title="plain", description="", settings=settings, lifespan=nothing)
with TestClient(app) as client:
    assert client.get("/healthz").headers["x-trace-id"]
encode(status_changed(new_call_id(), CallStatus.EN_ROUTE, T0), source="/test")
heavy = ("opentelemetry.sdk", "opentelemetry.exporter")
print(sorted(name for name in sys.modules if name.startswith(heavy)))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OTEL_")}
    root = Path(__file__).parents[2]
    done = subprocess.run(
        [sys.executable, "-c", program], env=env, cwd=root, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert done.stdout.strip() == "[]"


def test_export_is_asked_for_by_an_otlp_endpoint_unless_the_sdk_is_disabled() -> None:
    assert not tracing.export_configured({})
    assert not tracing.export_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": ""})
    assert tracing.export_configured({"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318"})
    assert tracing.export_configured({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"})
    assert not tracing.export_configured(
        {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://collector:4318", "OTEL_SDK_DISABLED": "true"}
    )
    assert not tracing.exporting()
