"""intake over HTTP on a real database: credentials, bad input, limits, idempotency, Kafka outages."""

from collections.abc import Iterator
from typing import Any

import pytest
from dispatch_shared.cloudevents import decode
from dispatch_shared.events import CallReceived, Topic
from fastapi.testclient import TestClient
from intake.app import IntakeSettings, create_app
from intake.models import Call
from sqlmodel import Session, select

from tests.factories import submission
from tests.stack import API_KEYS, auth, collect, runtime_of

pytestmark = pytest.mark.integration


def make_client(database_url: str, namespace: str, bootstrap: str, **settings: Any) -> TestClient:
    app = create_app(
        IntakeSettings(
            database_url=database_url,
            kafka_bootstrap_servers=bootstrap,
            kafka_namespace=namespace,
            api_keys=API_KEYS,
            outbox_poll_seconds=0.1,
            **settings,
        )
    )
    return TestClient(app)


@pytest.fixture
def client(database_url: str, namespace: str, kafka_bootstrap: str) -> Iterator[TestClient]:
    with make_client(database_url, namespace, kafka_bootstrap) as client:
        yield client


def stored_calls(client: TestClient) -> list[Call]:
    with Session(runtime_of(client).engine) as session:
        return list(session.exec(select(Call)))


async def test_a_new_call_is_accepted_stored_and_published(client: TestClient, namespace: str) -> None:
    response = client.post("/v1/calls", json=submission(call_type="MNTL"), headers=auth("cad"))
    assert response.status_code == 202
    call_id = response.json()["call_id"]

    records = await collect(namespace + Topic.CALLS_RECEIVED, count=1)
    event = decode(records[0].headers, records[0].value).event
    assert isinstance(event, CallReceived)
    assert str(event.call_id) == call_id and event.call_type == "MNTL"
    ledger = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
    assert ledger["status"] == "received"


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer not-a-key"}, 401), (auth("console"), 403), (auth("unit"), 403)],
)
def test_posting_needs_a_cad_key(client: TestClient, headers: dict[str, str], status: int) -> None:
    response = client.post("/v1/calls", json=submission(), headers=headers)
    assert response.status_code == status
    assert stored_calls(client) == []


def test_reading_needs_a_console_key_and_probes_stay_open(client: TestClient) -> None:
    assert client.get("/v1/calls", headers=auth("cad")).status_code == 403
    assert client.get("/v1/calls").status_code == 401
    assert client.get("/v1/calls", headers=auth("console")).status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/metrics").status_code == 200


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"narrative": "x"}, "cad_incident_id"),
        ({"cad_incident_id": "A-1", "narrative": ""}, "narrative"),
        ({"cad_incident_id": "A-1", "narrative": ["x"]}, "narrative"),
        ({"cad_incident_id": "A-1", "narrative": "x", "location": {"lat": "north"}}, "lat"),
        ({"cad_incident_id": "A-1", "narrative": "x", "location": {"lon": 500}}, "lon"),
    ],
)
def test_bad_input_is_422_naming_the_field_and_stores_nothing(
    client: TestClient, body: dict[str, Any], field: str
) -> None:
    response = client.post("/v1/calls", json=body, headers=auth("cad"))
    assert response.status_code == 422
    assert any(field in error["loc"] for error in response.json()["detail"])
    assert stored_calls(client) == []


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/v1/calls",
        content=b'{"cad_incident_id": ',
        headers={**auth("cad"), "content-type": "application/json"},
    )
    assert response.status_code == 422


def test_an_oversized_body_is_413_whether_declared_or_streamed(client: TestClient) -> None:
    big = submission(narrative="x" * 70_000)
    assert client.post("/v1/calls", json=big, headers=auth("cad")).status_code == 413

    def chunks() -> Iterator[bytes]:
        yield b'{"cad_incident_id": "A-2", "narrative": "'
        for _ in range(100):
            yield b"y" * 1000
        yield b'"}'

    streamed = client.post(
        "/v1/calls", content=chunks(), headers={**auth("cad"), "content-type": "application/json"}
    )
    assert streamed.status_code == 413
    assert stored_calls(client) == []


def test_unknown_call_is_404_and_a_malformed_id_is_422(client: TestClient) -> None:
    assert (
        client.get("/v1/calls/00000000-0000-0000-0000-000000000000", headers=auth("console")).status_code
        == 404
    )
    assert client.get("/v1/calls/not-a-uuid", headers=auth("console")).status_code == 422


def test_the_rate_limit_answers_429_with_retry_after(
    database_url: str, namespace: str, kafka_bootstrap: str
) -> None:
    with make_client(
        database_url, namespace, kafka_bootstrap, rate_limit_per_minute=60, rate_limit_burst=2
    ) as client:
        statuses = [
            client.post("/v1/calls", json=submission(), headers=auth("cad")).status_code for _ in range(3)
        ]
        limited = client.post("/v1/calls", json=submission(), headers=auth("cad"))
    assert statuses[:2] == [202, 202]
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1


def test_calls_are_accepted_while_kafka_is_down(database_url: str, namespace: str) -> None:
    with make_client(database_url, namespace, "127.0.0.1:1") as client:
        responses = [client.post("/v1/calls", json=submission(), headers=auth("cad")) for _ in range(3)]
        ready = client.get("/readyz")
        backlog = runtime_of(client).relay.backlog()[0]
    assert [r.status_code for r in responses] == [202, 202, 202]
    # Kafka is reported but does not gate readiness: the API still takes calls into the outbox.
    assert ready.status_code == 200 and ready.json()["checks"]["kafka"] != "ok"
    assert backlog == 3
