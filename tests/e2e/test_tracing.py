"""One call, one trace: the CAD system's trace id is answered by intake and found in the log lines
of all three services for that call.

The stack runs at DEBUG, where each request and each handled event is logged in its span; the
services' logs are JSON lines.
"""

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.factories import submission
from tests.stack import auth

pytestmark = pytest.mark.e2e

CAD_TRACE_ID = "6e0c63257de34c92bf9efcd03927272e"
CAD_TRACEPARENT = f"00-{CAD_TRACE_ID}-a3ce929d0e0e4736-01"
SERVICES = ("intake", "triage", "routing")


@pytest.fixture
def debug_stack(tmp_path: Path, namespace: str, database_url: str, kafka_bootstrap: str) -> Iterator[Stack]:
    stack = Stack(tmp_path, namespace=namespace, database_url=database_url, bootstrap=kafka_bootstrap)
    stack.env["LOG_LEVEL"] = "DEBUG"  # the services share this environment
    stack.start()
    yield stack
    stack.stop()


def log_lines(stack: Stack, service: str) -> list[dict[str, Any]]:
    """The service's JSON log lines (anything else it printed is skipped)."""
    lines = []
    for text in stack[service].log_text().splitlines():
        try:
            entry = json.loads(text)
        except json.JSONDecodeError:
            continue
        if isinstance(entry, dict):
            lines.append(entry)
    return lines


def call_lines(stack: Stack, call_id: str) -> dict[str, list[dict[str, Any]]]:
    return {
        service: [entry for entry in log_lines(stack, service) if entry.get("call_id") == call_id]
        for service in SERVICES
    }


def wait_for_routing(stack: Stack, call_id: str, timeout: float = 60) -> dict[str, list[dict[str, Any]]]:
    """Every service's log lines for the call, once each service has logged handling it."""
    deadline = time.monotonic() + timeout
    lines = call_lines(stack, call_id)
    while time.monotonic() < deadline:
        lines = call_lines(stack, call_id)
        if all(any(e["message"] == "handling event" for e in lines[s]) for s in SERVICES):
            return lines
        time.sleep(0.3)
    raise AssertionError(f"not every service handled {call_id}: { {s: len(v) for s, v in lines.items()} }")


def test_one_call_has_one_trace_id_in_every_services_logs(debug_stack: Stack) -> None:
    narrative = "Caller reports her neighbour is shouting at people who are not there, no weapons."
    with httpx.Client(base_url=debug_stack["intake"].url, timeout=10) as client:
        posted = client.post(
            "/v1/calls",
            json=submission(narrative=narrative),
            headers={**auth("cad"), "traceparent": CAD_TRACEPARENT},
        )
        assert posted.status_code == 202, posted.text
        assert posted.headers["x-trace-id"] == CAD_TRACE_ID
        call_id = posted.json()["call_id"]
        untraced = client.post("/v1/calls", json=submission(), headers=auth("cad"))
        assert untraced.status_code == 202 and untraced.headers["x-trace-id"] != CAD_TRACE_ID

    lines = wait_for_routing(debug_stack, call_id)
    for service in SERVICES:
        trace_ids = {entry.get("trace_id") for entry in lines[service]}
        assert trace_ids == {CAD_TRACE_ID}, (service, trace_ids)
        span_ids = {entry.get("span_id") for entry in lines[service]}
        assert None not in span_ids and "a3ce929d0e0e4736" not in span_ids
    # The request itself is logged in intake under the same trace.
    requests = [e for e in log_lines(debug_stack, "intake") if e["message"] == "http request"]
    assert any(e["trace_id"] == CAD_TRACE_ID and e["route"] == "/v1/calls" for e in requests)
    # Each service handled the call in its own span: three services, three span ids at least.
    handling = {
        entry["span_id"]
        for service in SERVICES
        for entry in lines[service]
        if entry["message"] == "handling event"
    }
    assert len(handling) >= 3
    assert narrative not in debug_stack.logs()  # not even at DEBUG
