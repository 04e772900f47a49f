"""schemathesis against each running service's OpenAPI, with valid keys of every role.

Each generated request is sent once per role, so both the authorised path and the 403 path are
exercised; none may answer with a server error. Then every POST and PUT operation gets generated
bodies with one JSON edge value spliced in (NaN, infinities, overflowing numbers, lone
surrogates in strings and keys, absurd nesting): where the operation takes a body each must be a
422 naming where the value sits (one without a body never reads it, and must not crash), and
afterwards /metrics must show no 500 series at all and every refusal counted under its route.
The services run as real processes on a real database and the real broker.
"""

import json
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from dispatch_shared.jsonsafe import INT64_MAX, INT64_MIN, MAX_JSON_DEPTH
from dispatch_shared.settings import ServiceSettings
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from schemathesis.core import NotSet
from schemathesis.core.result import Err

from tests.stack import API_KEYS, TEST_KEYS, ServiceProcess, auth, unique

pytestmark = pytest.mark.e2e

# Streams never end and the console is a page, not an API.
NOT_FUZZED = ["/v1/stream", "/console"]
BODY_METHODS = frozenset({"POST", "PUT"})
MAX_BODY_BYTES = ServiceSettings.model_fields["max_body_bytes"].default


@pytest.fixture(scope="module", params=["intake", "triage", "routing"])
def running_service(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str
) -> Iterator[ServiceProcess]:
    workdir = Path(tmp_path_factory.mktemp(request.param))
    service = ServiceProcess(
        request.param,
        {
            "DATABASE_URL": f"sqlite:///{workdir / 'fuzz.db'}",
            "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
            "KAFKA_NAMESPACE": unique("fuzz") + ".",
            "API_KEYS": API_KEYS,
            "RATE_LIMIT_PER_MINUTE": "0",
        },
        workdir / "logs" / f"{request.param}.log",
    )
    with service.running():
        yield service


def fuzzed_operations(service: ServiceProcess, methods: frozenset[str] | None = None) -> list[Any]:
    """The service's operations (those with one of ``methods``, when given) from its OpenAPI."""
    schema = schemathesis.openapi.from_url(f"{service.url}/openapi.json").exclude(path=NOT_FUZZED)
    operations = []
    for result in schema.get_all_operations():
        if isinstance(result, Err):
            raise result.err()
        if methods is None or result.ok().method.upper() in methods:
            operations.append(result.ok())
    return operations


def test_no_server_errors(running_service: ServiceProcess) -> None:
    operations = fuzzed_operations(running_service)
    assert operations, "the schema lists no operations"
    for operation in operations:

        @given(case=operation.as_strategy())
        @settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck), database=None)
        def no_server_error(case: schemathesis.Case[Any]) -> None:
            for role in ("cad", "console", "unit", "ops"):
                response = case.call(headers=auth(role), timeout=10)
                assert response.status_code < 500, f"{case.method} {case.formatted_path} as {role}"

        no_server_error()


@dataclass(frozen=True)
class Edge:
    """A JSON value Python's parser accepts but no field can hold as sent, and the 422 it must get.

    ``text`` is spliced into a generated body in place of one value. The answer's ``loc`` is the
    path to that value, then ``key`` when the edge is a key, or for nesting of ``nesting`` levels
    the path down to the first level deeper than ``MAX_JSON_DEPTH``.
    """

    name: str
    text: str
    error: str
    key: str | None = None
    nesting: int = 0

    def loc(self, path: tuple[str | int, ...]) -> list[str | int]:
        if self.nesting:
            # The body is level 1, the replaced value level len(path) + 1.
            return ["body", *path, *[0] * (MAX_JSON_DEPTH - len(path))]
        return ["body", *path, *([self.key] if self.key else [])]


def nested(levels: int) -> str:
    return "[" * levels + "]" * levels


EDGES = [
    Edge("nan", "NaN", "finite_number"),
    Edge("infinity", "Infinity", "finite_number"),
    Edge("minus-infinity", "-Infinity", "finite_number"),
    Edge("overflow", "1e400", "number_out_of_range"),
    Edge("negative-overflow", "-1.5E+400", "number_out_of_range"),
    Edge("underflow", "1e-400", "number_out_of_range"),
    Edge("int-above-int64", str(INT64_MAX + 1), "number_out_of_range"),
    Edge("int-below-int64", str(INT64_MIN - 1), "number_out_of_range"),
    Edge("lone-high-surrogate", '"call \\ud800"', "string_unicode"),
    Edge("lone-low-surrogate", '"\\udfff"', "string_unicode"),
    Edge("surrogate-key", '{"\\ud83d": 1}', "string_unicode", key="\\ud83d"),
    Edge("too-deep", nested(MAX_JSON_DEPTH + 1), "json_too_deep", nesting=MAX_JSON_DEPTH + 1),
    # Deeper than Python's own parser can go (it stops near 1000 levels with a RecursionError).
    Edge("far-too-deep", nested(5_000), "json_too_deep", nesting=5_000),
]


def value_paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    """The path of every value in a JSON document, the document itself and containers included."""
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += value_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += value_paths(item, (*prefix, index))
    return paths


def replaced(value: Any, path: tuple[str | int, ...], new: Any) -> Any:
    """A copy of ``value`` with what sits at ``path`` replaced by ``new``."""
    if not path:
        return new
    head, rest = path[0], path[1:]
    if isinstance(value, dict):
        return {key: replaced(item, rest, new) if key == head else item for key, item in value.items()}
    return [replaced(item, rest, new) if index == head else item for index, item in enumerate(value)]


@st.composite
def body_with_edge(draw: st.DrawFn, body: Any, edge: Edge) -> tuple[bytes, tuple[str | int, ...]]:
    """``body`` as JSON text with one of its values (any, at any depth) replaced by ``edge``."""
    path = draw(st.sampled_from(value_paths(body)))
    marker = f"edge-{uuid.uuid4().hex}"
    text = json.dumps(replaced(body, path, marker), ensure_ascii=False)
    return text.replace(json.dumps(marker), edge.text).encode("utf-8"), path


def request_counts(service: ServiceProcess) -> dict[tuple[str, str, str], float]:
    """``dispatch_http_requests_total`` from the service's /metrics, by (method, route, status)."""
    metrics = httpx.get(f"{service.url}/metrics", timeout=10).text
    return {
        (sample.labels["method"], sample.labels["route"], sample.labels["status"]): sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "dispatch_http_requests_total"
    }


def edge_test(operation: Any, edge: Edge, send: Callable[..., None]) -> Callable[[], None]:
    """A hypothesis test: ``edge`` at a drawn place in drawn bodies of ``operation``, as drawn roles.

    Any role will do: the body is checked before the key, as malformed JSON always was.
    """

    @given(case=operation.as_strategy(), data=st.data(), role=st.sampled_from(sorted(TEST_KEYS)))
    @settings(max_examples=4, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def refused(case: Any, data: st.DataObject, role: str) -> None:
        body = {} if isinstance(case.body, NotSet) else case.body
        content, path = data.draw(body_with_edge(body, edge))
        send(case, role, edge, content, path)

    return refused


def test_json_edge_values_are_a_422_naming_the_field(running_service: ServiceProcess) -> None:
    operations = fuzzed_operations(running_service, BODY_METHODS)
    assert operations, "the schema lists no POST or PUT operations"
    refused_by: Counter[tuple[str, str]] = Counter()  # (method, route template): 422s and 413s
    with httpx.Client(base_url=running_service.url, timeout=10) as client:

        def send(case: Any, role: str, edge: Edge, content: bytes, path: tuple[str | int, ...]) -> None:
            response = client.request(
                case.method,
                case.formatted_path,
                params=case.query,
                content=content,
                headers={**auth(role), "content-type": "application/json"},
            )
            where = f"{case.method} {case.formatted_path} with {edge.name} at {list(path)}"
            if "requestBody" not in case.operation.definition.raw:
                # No body in the contract: the route never reads one, so it can come to no harm.
                assert response.status_code < 500, f"{where}: {response.status_code}"
                return
            if len(content) > MAX_BODY_BYTES:  # a long generated body: the size limit answers first
                assert response.status_code == 413, where
                refused_by[case.method, case.operation.path] += 1
                return
            assert response.status_code == 422, f"{where}: {response.status_code} {response.text[:300]}"
            found = [(detail["loc"], detail["type"]) for detail in response.json()["detail"]]
            assert (edge.loc(path), edge.error) in found, f"{where}: {found}"
            refused_by[case.method, case.operation.path] += 1

        for operation in operations:
            for edge in EDGES:
                edge_test(operation, edge, send)()
    counts = request_counts(running_service)
    # No crash anywhere in this service's run (a 503 of /readyz while it started is no crash) ...
    assert [series for series in counts if series[2] == "500"] == []
    # ... and every refusal is counted under its route template.
    for (method, route), refused in refused_by.items():
        counted = counts.get((method, route, "422"), 0) + counts.get((method, route, "413"), 0)
        assert counted >= refused, f"{method} {route}: {refused} refused, {counted} counted"
    with_body = [op for op in operations if "requestBody" in op.definition.raw]
    assert with_body, "no POST or PUT operation takes a body"
    assert {(op.method.upper(), op.path) for op in with_body} == set(refused_by)
