"""The shared HTTP layer on JSON edge values, crashes and oversized bodies.

A small app built with ``create_service_app`` (the same middleware, handlers and metrics every
service has) is driven through Starlette's TestClient: JSON that Python's parser accepts but no
field can hold as sent is a 422 naming the field, a route that raises is a counted 500, and a
body over the limit is a counted 413.
"""

from __future__ import annotations

import json
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from dispatch_shared.events import Location
from dispatch_shared.http import create_service_app
from dispatch_shared.jsonsafe import INT64_MAX, INT64_MIN, MAX_JSON_DEPTH, json_edge_errors
from dispatch_shared.settings import ServiceSettings
from dispatch_shared.text import CleanText
from fastapi import APIRouter, FastAPI
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st
from prometheus_client.parser import text_string_to_metric_families
from pydantic import BaseModel, ConfigDict, JsonValue, TypeAdapter, ValidationError

MAX_BODY_BYTES = 64 * 1024


class Report(BaseModel):
    """A body with the field kinds the services take: text, coordinates, counts, free JSON."""

    model_config = ConfigDict(extra="forbid")

    name: CleanText = ""
    location: Location | None = None
    count: int | None = None
    extra: JsonValue = None


@asynccontextmanager
async def no_resources(_app: FastAPI) -> AsyncIterator[None]:
    yield


def build_app(received: list[Any]) -> FastAPI:
    settings = ServiceSettings(
        service_name="edges", api_keys=f"ops:{'o' * 20}", max_body_bytes=MAX_BODY_BYTES
    )
    app = create_service_app(title="edges", description="test app", settings=settings, lifespan=no_resources)

    @app.post("/v1/reports")
    def post_report(report: Report) -> dict[str, str]:
        received.append(report)
        return {"status": "stored"}

    @app.put("/v1/reports/{report_id}")
    def put_report(report_id: str, report: Report) -> dict[str, str]:
        received.append(report)
        return {"status": "stored"}

    batches = APIRouter()  # included, as the services' own routers are

    @batches.post("/v1/batches")
    def post_batch(reports: list[Report]) -> dict[str, int]:
        received.extend(reports)
        return {"stored": len(reports)}

    app.include_router(batches)

    @app.get("/v1/faults/{fault_id}")
    def injected_fault(fault_id: str) -> dict[str, str]:
        raise RuntimeError(f"injected fault {fault_id}")

    return app


@pytest.fixture(scope="module")
def received() -> list[Any]:
    return []


@pytest.fixture(scope="module")
def client(received: list[Any]) -> Iterator[TestClient]:
    with TestClient(build_app(received), raise_server_exceptions=False) as client:
        yield client


def post_raw(client: TestClient, path: str, body: bytes, content_type: str = "application/json") -> Any:
    return client.request(
        "PUT" if path.startswith("/v1/reports/") else "POST",
        path,
        content=body,
        headers={"content-type": content_type},
    )


def strict_json(content: bytes) -> Any:
    """The answer parsed as RFC 8259 JSON: no NaN or Infinity, valid UTF-8 throughout."""

    def refuse(name: str) -> Any:
        raise AssertionError(f"the answer holds {name}")

    return json.loads(content.decode("utf-8"), parse_constant=refuse)


def details(response: Any) -> list[dict[str, Any]]:
    assert response.status_code == 422, response.text
    detail: list[dict[str, Any]] = strict_json(response.content)["detail"]
    return detail


def requests_counted(client: TestClient, *, method: str, route: str, status: str) -> float:
    """``dispatch_http_requests_total`` for one series, as /metrics shows it (0 when absent)."""
    wanted = {"method": method, "route": route, "status": status}
    for family in text_string_to_metric_families(client.get("/metrics").text):
        for sample in family.samples:
            if sample.name == "dispatch_http_requests_total" and sample.labels == wanted:
                return float(sample.value)
    return 0.0


# Number literals Python's parser accepts that no field can hold as sent, with the error type.
EDGE_NUMBERS = [
    ("NaN", "finite_number"),
    ("Infinity", "finite_number"),
    ("-Infinity", "finite_number"),
    ("1e400", "number_out_of_range"),
    ("-1.5E+400", "number_out_of_range"),
    ("1e-400", "number_out_of_range"),
    (str(INT64_MAX + 1), "number_out_of_range"),
    (str(INT64_MIN - 1), "number_out_of_range"),
    ("9" * 5000, "number_out_of_range"),  # past Python's own int-conversion digit limit
]
# Strings with a lone surrogate: escaped high, low and reversed halves, and raw UTF-8 bytes.
EDGE_STRINGS = [
    b'"\\ud800"',
    b'"tail \\udfff"',
    b'"\\ude00\\ud83d"',
    b'"raw \xed\xa0\x80 bytes"',
]
EDGES = [(literal.encode(), kind) for literal, kind in EDGE_NUMBERS] + [
    (literal, "string_unicode") for literal in EDGE_STRINGS
]
# Where an edge value sits: the body template (EDGE marks the spot), the path, and its loc.
PLACES = [
    ("/v1/reports", b'{"name": "x", "count": EDGE}', ["body", "count"]),
    ("/v1/reports", b'{"location": {"lat": 1.5, "lon": EDGE}}', ["body", "location", "lon"]),
    ("/v1/reports/r-1", b'{"extra": {"readings": [1, 2, EDGE]}}', ["body", "extra", "readings", 2]),
    (
        "/v1/batches",
        b'[{"name": "a"}, {"name": "b", "location": {"lat": EDGE}}]',
        ["body", 1, "location", "lat"],
    ),
]


@pytest.mark.parametrize(("path", "template", "loc"), PLACES, ids=[str(place[2]) for place in PLACES])
@pytest.mark.parametrize(
    ("literal", "kind"), EDGES, ids=[literal[:12].decode(errors="replace") for literal, _ in EDGES]
)
def test_edge_values_are_a_422_naming_the_field(
    client: TestClient,
    received: list[Any],
    path: str,
    template: bytes,
    loc: list[Any],
    literal: bytes,
    kind: str,
) -> None:
    before = len(received)
    response = post_raw(client, path, template.replace(b"EDGE", literal))
    [detail] = details(response)
    assert detail["type"] == kind
    assert detail["loc"] == loc
    assert "input" not in detail  # the value is not echoed: it is what JSON cannot carry
    assert len(received) == before  # the route never ran


def test_a_lone_surrogate_in_a_key_is_named_with_the_key_escaped(client: TestClient) -> None:
    response = post_raw(client, "/v1/reports", b'{"extra": {"ok": 1, "bad\\udc80key": 2}}')
    [detail] = details(response)
    assert detail["type"] == "string_unicode"
    assert detail["loc"] == ["body", "extra", "bad\\udc80key"]


def test_a_repeated_key_is_refused_rather_than_one_value_dropped(client: TestClient) -> None:
    response = post_raw(client, "/v1/reports", b'{"name": "first", "location": {"lat": 1, "lat": 2}}')
    [detail] = details(response)
    assert detail == {
        "type": "duplicate_key",
        "loc": ["body", "location", "lat"],
        "msg": "Key appears more than once in this object",
    }


def nested(levels: int) -> bytes:
    return b"[" * levels + b"]" * levels


def test_nesting_up_to_the_limit_passes_and_one_more_level_is_refused(
    client: TestClient, received: list[Any]
) -> None:
    # The body object is level 1, so "extra" may hold MAX_JSON_DEPTH - 1 levels.
    deepest = b'{"extra": ' + nested(MAX_JSON_DEPTH - 1) + b"}"
    assert post_raw(client, "/v1/reports", deepest).status_code == 200
    assert received[-1].extra is not None

    too_deep = b'{"extra": ' + nested(MAX_JSON_DEPTH) + b"}"
    [detail] = details(post_raw(client, "/v1/reports", too_deep))
    assert detail["type"] == "json_too_deep"
    # The body is level 1 and "extra" level 2: the array at level MAX_JSON_DEPTH + 1 is the one named.
    assert detail["loc"] == ["body", "extra", *[0] * (MAX_JSON_DEPTH - 1)]


@pytest.mark.parametrize(
    ("opening", "closing", "levels"),
    [(b'{"a": ', b"}", 2_000), (b"[", b"]", 30_000), (b'[{"a": ', b"}]", 4_000)],
    ids=["objects", "arrays", "mixed"],
)
def test_nesting_too_deep_for_the_parser_is_still_a_422_naming_the_field(
    client: TestClient, opening: bytes, closing: bytes, levels: int
) -> None:
    # Python's parser alone gives up with a RecursionError near 1000 levels, naming nothing.
    body = b'{"name": "deep", "extra": {"tree": ' + opening * levels + b"1" + closing * levels + b"}}"
    assert len(body) < MAX_BODY_BYTES
    [detail] = details(post_raw(client, "/v1/reports", body))
    assert detail["type"] == "json_too_deep"
    assert detail["loc"][:3] == ["body", "extra", "tree"]
    assert len(detail["loc"]) == 1 + MAX_JSON_DEPTH  # "body", then the path to level MAX_JSON_DEPTH + 1


def test_every_edge_value_in_one_body_is_reported_in_document_order(client: TestClient) -> None:
    body = b'{"name": "\\ud800", "count": NaN, "extra": [1e400, {"k": -Infinity}]}'
    found = [(detail["loc"], detail["type"]) for detail in details(post_raw(client, "/v1/reports", body))]
    assert found == [
        (["body", "name"], "string_unicode"),
        (["body", "count"], "finite_number"),
        (["body", "extra", 0], "number_out_of_range"),
        (["body", "extra", 1, "k"], "finite_number"),
    ]


def test_values_at_the_edge_of_the_range_pass_unaltered(client: TestClient, received: list[Any]) -> None:
    body = (
        b'{"name": "smile \\ud83d\\ude00", "count": 9223372036854775807, '
        b'"extra": [-9223372036854775808, 5e-324, 1.7976931348623157e308, -0.0, 0e-999, "\\u00e9"]}'
    )
    assert post_raw(client, "/v1/reports", body).status_code == 200
    report = received[-1]
    assert report.name == "smile \U0001f600"
    assert report.count == INT64_MAX
    assert report.extra[:4] == [INT64_MIN, 5e-324, 1.7976931348623157e308, 0.0]
    assert math.copysign(1.0, report.extra[3]) == -1.0
    assert report.extra[4:] == [0.0, "\u00e9"]


def test_ordinary_validation_errors_keep_fastapis_shape(client: TestClient) -> None:
    [detail] = details(post_raw(client, "/v1/reports", b'{"location": {"lat": 91, "lon": 0}}'))
    assert detail["loc"] == ["body", "location", "lat"]
    assert detail["type"] == "less_than_equal"
    assert detail["input"] == 91


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/octet-stream"])
def test_bytes_that_are_not_utf8_are_a_422_under_any_content_type(
    client: TestClient, content_type: str
) -> None:
    [detail] = details(post_raw(client, "/v1/reports", b'{"name": "\xff\xfe"}', content_type))
    assert detail["loc"] == ["body"]


def test_malformed_json_keeps_the_frameworks_answer_with_its_position(client: TestClient) -> None:
    [detail] = details(post_raw(client, "/v1/reports", b'{"name": }'))
    assert detail["type"] == "json_invalid"
    assert detail["loc"] == ["body", 9]


@pytest.mark.parametrize(
    ("method", "route", "paths"),
    [("PUT", "/v1/reports/{report_id}", ["/v1/reports/r-2", "/v1/reports/r-3"]), ("POST", "/v1/batches", [])],
)
def test_edge_values_are_counted_under_the_route_template(
    client: TestClient, method: str, route: str, paths: list[str]
) -> None:
    before = requests_counted(client, method=method, route=route, status="422")
    for path in paths or [route, route]:
        assert post_raw(client, path, b'[{"count": NaN}]').status_code == 422
    after = requests_counted(client, method=method, route=route, status="422")
    assert after - before == 2


def test_a_route_that_raises_is_a_500_counted_under_its_template(client: TestClient) -> None:
    before = requests_counted(client, method="GET", route="/v1/faults/{fault_id}", status="500")
    response = client.get("/v1/faults/f-1")
    assert response.status_code == 500
    after = requests_counted(client, method="GET", route="/v1/faults/{fault_id}", status="500")
    assert after - before == 1
    metrics = client.get("/metrics").text
    assert "/v1/faults/f-1" not in metrics  # raw paths never become labels
    assert 'dispatch_http_request_seconds_count{method="GET",route="/v1/faults/{fault_id}"}' in metrics


def test_an_oversized_body_is_a_413_counted_under_the_route_template(client: TestClient) -> None:
    before = requests_counted(client, method="POST", route="/v1/reports", status="413")
    body = b'{"name": "' + b"x" * MAX_BODY_BYTES + b'"}'
    assert post_raw(client, "/v1/reports", body).status_code == 413  # Content-Length declared

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 4096):
            yield body[start : start + 4096]

    streamed = client.post("/v1/reports", content=chunks(), headers={"content-type": "application/json"})
    assert streamed.status_code == 413  # no Content-Length: counted as it arrives
    after = requests_counted(client, method="POST", route="/v1/reports", status="413")
    assert after - before == 2


def test_labels_stay_bounded_for_unknown_paths_and_invented_methods(client: TestClient) -> None:
    before_unmatched = requests_counted(client, method="GET", route="unmatched", status="404")
    before_other = requests_counted(client, method="other", route="/v1/reports", status="405")
    assert client.get("/no/such/path-123").status_code == 404
    assert client.request("BREW", "/v1/reports").status_code == 405
    assert requests_counted(client, method="GET", route="unmatched", status="404") - before_unmatched == 1
    assert requests_counted(client, method="other", route="/v1/reports", status="405") - before_other == 1
    metrics = client.get("/metrics").text
    assert "path-123" not in metrics
    assert "BREW" not in metrics


def test_clean_text_refuses_a_lone_surrogate_wherever_it_is_validated() -> None:
    adapter = TypeAdapter(CleanText)
    assert adapter.validate_python("e\u0301 ok \U0001f600") == "\u00e9 ok \U0001f600"
    for text in ["\ud800", "tail \udfff", "\udc00\ud800"]:
        with pytest.raises(ValidationError, match="lone surrogate"):
            adapter.validate_python(text)


# Any JSON value a client may legitimately send: finite floats, 64-bit integers, whole characters.
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(INT64_MIN, INT64_MAX)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(), children, max_size=4),
    max_leaves=20,
)


def value_paths(value: Any, prefix: tuple[str | int, ...] = ()) -> list[tuple[str | int, ...]]:
    paths = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            paths += value_paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            paths += value_paths(item, (*prefix, index))
    return paths


def replaced(value: Any, path: tuple[str | int, ...], new: Any) -> Any:
    if not path:
        return new
    if isinstance(value, dict):
        return {key: replaced(item, path[1:], new) if key == path[0] else item for key, item in value.items()}
    return [replaced(item, path[1:], new) if index == path[0] else item for index, item in enumerate(value)]


@given(document=json_values, ascii_only=st.booleans())
def test_json_a_client_may_send_is_never_refused(document: Any, ascii_only: bool) -> None:
    # Escaped surrogate pairs (ensure_ascii), brackets and "NaN" inside strings, -0.0, 5e-324 ...
    assert json_edge_errors(json.dumps(document, ensure_ascii=ascii_only).encode()) == []


@given(document=json_values, data=st.data())
def test_an_edge_value_anywhere_is_named_where_it_sits(document: Any, data: st.DataObject) -> None:
    path = data.draw(st.sampled_from(value_paths(document)))
    literal, kind = data.draw(st.sampled_from(EDGES))
    marker = "edge-marker-0f3c"
    body = json.dumps(replaced(document, path, marker)).encode().replace(json.dumps(marker).encode(), literal)
    details = json_edge_errors(body)
    assert {"loc": ["body", *path], "type": kind} in [{"loc": d["loc"], "type": d["type"]} for d in details]
