"""EIDO through intake over HTTP on a real database and the real broker.

Posting an EIDO (bare or in a notify message) submits a call like the REST path, and a later one
with new notes updates it; the published call text is decided by the real triage engine; person
descriptors reach neither the ledger, the events nor the logs; the raw EIDO is kept until
retention; the export validates against NENA's schema. NENA's own call-transfer sample is posted
too where its folder is (``tests.conftest.eido_schema_dir``).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from dispatch_shared.cloudevents import decode
from dispatch_shared.db import transaction
from dispatch_shared.events import (
    AssignedUnit,
    CallReceived,
    CallRouted,
    CallStatus,
    CallTriaged,
    CallUpdated,
    Route,
    Topic,
    utcnow,
)
from dispatch_shared.logs import JsonFormatter
from fastapi.testclient import TestClient
from intake import ledger
from intake.app import IntakeSettings, create_app
from intake.models import Call, EidoDocument
from intake.retention import purge_before
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from triage.policy import classify, default_policy

from tests.conftest import eido_schema_dir
from tests.stack import API_KEYS, auth, collect, runtime_of
from tests.unit.test_intake_eido import DESCRIPTORS, minimal, schema_errors

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data" / "eido"
POLICY = default_policy()
AGENCY = "psap.example.org"


@pytest.fixture
def client(database_url: str, namespace: str, kafka_bootstrap: str) -> Iterator[TestClient]:
    settings = IntakeSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_namespace=namespace,
        api_keys=API_KEYS,
        outbox_poll_seconds=0.1,
        rate_limit_per_minute=0,
        # The published samples date from 2021: keep retention from clearing them mid-test.
        retention_days=36_500,
        eido_agency_id=AGENCY,
        log_level="DEBUG",
    )
    with TestClient(create_app(settings)) as client:
        yield client


def fixture(name: str) -> dict[str, Any]:
    """An EIDO of ours (``tests/data/eido``), or ``nena:<name>``: one of NENA's, skipped without them."""
    folder = eido_schema_dir() if name.startswith("nena:") else DATA
    path = folder / name.removeprefix("nena:")
    document: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return document


def engine_of(client: TestClient) -> Engine:
    engine = runtime_of(client).engine
    return engine


def post_eido(client: TestClient, body: Any, expected: int = 202) -> dict[str, Any]:
    response = client.post("/v1/eido", json=body, headers=auth("cad"))
    assert response.status_code == expected, response.text
    answer: dict[str, Any] = response.json()
    return answer


def stored(client: TestClient, call_id: str) -> tuple[Call, list[EidoDocument]]:
    with transaction(engine_of(client)) as session:
        call = session.get(Call, call_id)
        assert call is not None
        documents = session.exec(
            select(EidoDocument).where(EidoDocument.call_id == call_id).order_by(col(EidoDocument.id))
        ).all()
        session.expunge_all()
        return call, list(documents)


async def published(namespace: str, topic: Topic, count: int = 1) -> list[Any]:
    records = await collect(namespace + topic, count=count)
    return [decode(record.headers, record.value).event for record in records]


@pytest.mark.parametrize(
    "name",
    [
        "call-transfer.json",
        "EidoWithJcard.json",
        "NotifyWithEido.json",
        "nena:sample-call-transfer-eido.json",
    ],
)
async def test_the_samples_are_accepted_and_held_for_review(
    client: TestClient, namespace: str, name: str
) -> None:
    answer = post_eido(client, fixture(name))
    assert answer["status"] == "received" and answer["revision"] == 1
    record = client.get(f"/v1/calls/{answer['call_id']}", headers=auth("console")).json()
    assert record["cad_incident_id"].startswith("eido:urn:emergency:uid:incidentid:")
    assert record["location"]["address"]

    (event,) = await published(namespace, Topic.CALLS_RECEIVED)
    assert isinstance(event, CallReceived) and str(event.call_id) == answer["call_id"]
    decision = classify(event.narrative, event.call_type, policy=POLICY)
    assert decision.needs_review

    call, documents = stored(client, answer["call_id"])
    assert [document.eido_id for document in documents] == [record["cad_incident_id"].removeprefix("eido:")]
    assert documents[0].document is not None and json.loads(documents[0].document)["eidoVersion"] == "1.0"
    exported = client.get(f"/v1/calls/{answer['call_id']}/eido", headers=auth("console")).json()
    assert exported["$id"] == documents[0].eido_id
    assert schema_errors(exported) == []


async def test_a_person_on_a_bridge_railing_is_co_response_and_descriptors_go_nowhere(
    client: TestClient, namespace: str, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    answer = post_eido(client, fixture("bridge-railing.json"))
    (event,) = await published(namespace, Topic.CALLS_RECEIVED)
    assert isinstance(event, CallReceived)
    decision = classify(event.narrative, event.call_type, policy=POLICY)
    assert decision.route is Route.CO_RESPONSE

    call, documents = stored(client, answer["call_id"])
    assert call.narrative == event.narrative and "bridge railing" in call.narrative
    record = client.get(f"/v1/calls/{answer['call_id']}", headers=auth("console")).text
    # Every record as the service writes it, extra fields included.
    formatter = JsonFormatter("intake")
    logs = "\n".join(formatter.format(record) for record in caplog.records)
    assert "POST http://testserver/v1/eido" in logs  # records were captured while this ran
    for descriptor in DESCRIPTORS:
        assert descriptor not in call.narrative
        assert descriptor not in event.model_dump_json()
        assert descriptor not in record
        assert descriptor not in logs
    # The audit copy is the EIDO as sent, until retention.
    assert documents[0].document is not None and "Pacific Islander" in documents[0].document


async def test_a_later_eido_with_new_notes_updates_the_call(client: TestClient, namespace: str) -> None:
    full = fixture("bridge-railing.json")
    first = json.loads(json.dumps(full))
    first["notesComponent"] = [n for n in full["notesComponent"] if "jump" not in n["notesActionComments"]]
    answer = post_eido(client, first)
    call_id = answer["call_id"]

    later = post_eido(client, full, expected=200)
    assert later == {"call_id": call_id, "status": "received", "updated": True, "revision": 2}
    (update,) = await published(namespace, Topic.CALLS_UPDATED)
    assert isinstance(update, CallUpdated) and update.revision == 2 and update.change == "resent"
    assert update.narrative.endswith("He says he is going to jump & nobody can stop him.")
    assert classify(update.narrative, update.call_type, policy=POLICY).route is Route.CO_RESPONSE

    # The same EIDO again changes nothing and is not kept twice.
    again = post_eido(client, full, expected=200)
    assert again == {**later, "updated": False}
    assert len(stored(client, call_id)[1]) == 2


@pytest.mark.parametrize(
    ("body", "missing"),
    [
        ({}, {"$id", "eidoVersion", "issuingElementIdentification", "agencyComponent"}),
        (
            {"$id": "urn:x", "notesComponent": [{"notesActionComments": "man on the railing"}]},
            {"eidoVersion", "issuingElementIdentification", "agencyComponent"},
        ),
    ],
)
def test_a_malformed_eido_is_422_naming_every_missing_part(
    client: TestClient, body: dict[str, Any], missing: set[str]
) -> None:
    response = client.post("/v1/eido", json=body, headers=auth("cad"))
    assert response.status_code == 422
    detail = response.json()["detail"]
    assert {error["loc"][-1] for error in detail if error["type"] == "missing"} == missing
    assert all(error["loc"][0] == "body" for error in detail)
    assert "railing" not in response.text
    with transaction(engine_of(client)) as session:
        assert session.exec(select(Call)).all() == []


@pytest.mark.parametrize(
    ("content", "status"),
    [
        (b'{"$id": "urn:x", ', 422),
        (b"[1, 2]", 422),
        (b'"an eido"', 422),
        (b'{"$id": NaN}', 422),
        (json.dumps(minimal(notesComponent=[{"notesActionComments": "x" * 70_000}])).encode(), 413),
    ],
)
def test_bad_json_is_422_and_an_oversized_body_413(client: TestClient, content: bytes, status: int) -> None:
    response = client.post(
        "/v1/eido", content=content, headers={**auth("cad"), "content-type": "application/json"}
    )
    assert response.status_code == status


def test_posting_needs_a_cad_key_and_cad_ids_may_not_pose_as_eido(client: TestClient) -> None:
    assert client.post("/v1/eido", json=minimal(), headers=auth("console")).status_code == 403
    assert client.post("/v1/eido", json=minimal()).status_code == 401
    posing = {"cad_incident_id": "eido:urn:x", "narrative": "Man on the bridge"}
    assert client.post("/v1/calls", json=posing, headers=auth("cad")).status_code == 422


def test_the_export_validates_and_carries_decision_and_unit(client: TestClient) -> None:
    document = fixture("bridge-railing.json")
    call_id = post_eido(client, document)["call_id"]
    with transaction(engine_of(client)) as session:
        call = session.get(Call, call_id)
        assert call is not None and call.narrative is not None
        decision = classify(call.narrative, call.call_type, policy=POLICY)
        now = utcnow()
        ledger.record_triaged(
            session, CallTriaged(call_id=call_id, decision=decision, received_at=now, triaged_at=now)
        )
        ledger.record_routed(
            session,
            CallRouted(
                call_id=call_id,
                route=decision.route,
                priority=decision.priority,
                status=CallStatus.ASSIGNED,
                unit=AssignedUnit(unit_id="CR-7", type="co_response"),
                distance_km=0.8,
                routed_at=now + timedelta(seconds=1),
            ),
        )

    assert client.get(f"/v1/calls/{call_id}/eido", headers=auth("cad")).status_code == 403
    response = client.get(f"/v1/calls/{call_id}/eido", headers=auth("console"))
    assert response.status_code == 200
    exported = response.json()
    assert schema_errors(exported) == []
    assert exported["$id"] == document["$id"]
    incident = exported["incidentComponent"]
    assert incident["incidentTypeInternalCode"] == "co_response"
    assert incident["incidentCommonPriorityNumber"] == decision.priority
    assert incident["incidentTypeCommonRegistryText"] == "Suicide"
    assert exported["emergencyResourceComponent"][0]["emergencyResourceName"] == "CR-7"
    assert exported["dispatchComponent"][0]["agencyReference"] == {"$ref": AGENCY}
    assert "jump" not in response.text and "Pacific" not in response.text

    unknown = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/v1/calls/{unknown}/eido", headers=auth("console")).status_code == 404


def test_a_rest_call_exports_under_its_own_incident_id(client: TestClient) -> None:
    posted = client.post(
        "/v1/calls", json={"cad_incident_id": "CAD-88", "call_type": "MNTL"}, headers=auth("cad")
    ).json()
    exported = client.get(f"/v1/calls/{posted['call_id']}/eido", headers=auth("console")).json()
    assert schema_errors(exported) == []
    assert exported["$id"].startswith("urn:emergency:uid:incidentid:")
    assert exported["$id"].endswith(":" + AGENCY)


def test_retention_clears_the_raw_eido_and_keeps_its_id(client: TestClient) -> None:
    document = fixture("bridge-railing.json")
    call_id = post_eido(client, document)["call_id"]
    with transaction(engine_of(client)) as session:
        purged = purge_before(session, utcnow() + timedelta(days=365))
    assert purged.calls == 1
    call, documents = stored(client, call_id)
    assert call.narrative is None
    assert [(d.eido_id, d.document) for d in documents] == [(document["$id"], None)]
    # A later EIDO is kept, marks the call changed, and is cleared by the next pass.
    post_eido(client, {**document, "lastUpdateTimeStamp": "2026-11-29T23:00:00-08:00"}, expected=200)
    with transaction(engine_of(client)) as session:
        assert purge_before(session, utcnow() + timedelta(days=365)).calls == 1
    assert [d.document for d in stored(client, call_id)[1]] == [None, None]
    exported = client.get(f"/v1/calls/{call_id}/eido", headers=auth("console")).json()
    assert exported["$id"] == document["$id"]
