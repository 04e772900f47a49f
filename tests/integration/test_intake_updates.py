"""Calls that change after they are received: changed resends, supplemental notes, revisions.

intake over HTTP on a real database and the real broker: an unchanged repeat changes nothing, a
changed resend or a note is the call's next revision and goes out as ``CallUpdated`` with the
whole call text, closed and unknown calls are refused, and concurrent changes get one revision
each with no gaps. The last tests take the next hop on the same database: triage decides each
revision once.
"""

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from typing import Any
from uuid import UUID

import pytest
from alembic import command
from dispatch_shared.cloudevents import decode
from dispatch_shared.db import make_engine, migrate, migration_config, transaction
from dispatch_shared.events import CallReceived, CallStatus, CallTriaged, CallUpdated, Topic, utcnow
from dispatch_shared.outbox import Outbox
from dispatch_shared.retention import purge
from fastapi.testclient import TestClient
from intake import ledger
from intake.app import IntakeSettings, create_app
from intake.models import CallChange, IntakeOutbox
from intake.retention import purge_before
from intake.schemas import NOTE_MAX_CHARS
from sqlalchemy import text
from sqlalchemy.engine import Engine
from sqlmodel import col, select
from triage.app import MIGRATIONS as TRIAGE_MIGRATIONS
from triage.models import Decision, TriageOutbox
from triage.policy import default_policy
from triage.service import triage_call

from tests.factories import T0, later, new_call_id, status_changed, submission
from tests.stack import API_KEYS, auth, collect, runtime_of

# Each test names its tier: db (a database only) or integration (the broker too).

FIRST = "Man talking to himself outside the library"


@pytest.fixture
def client(database_url: str, namespace: str, kafka_bootstrap: str) -> Iterator[TestClient]:
    settings = IntakeSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_namespace=namespace,
        api_keys=API_KEYS,
        outbox_poll_seconds=0.1,
        rate_limit_per_minute=0,
    )
    with TestClient(create_app(settings)) as client:
        yield client


def engine_of(client: TestClient) -> Engine:
    engine = runtime_of(client).engine
    return engine


def staged_topics(client: TestClient) -> list[str]:
    with transaction(engine_of(client)) as session:
        return [row.topic for row in session.exec(select(IntakeOutbox).order_by(col(IntakeOutbox.id)))]


async def updates(namespace: str, count: int) -> list[CallUpdated]:
    records = await collect(namespace + Topic.CALLS_UPDATED, count=count)
    events = [decode(record.headers, record.value).event for record in records]
    assert all(isinstance(event, CallUpdated) for event in events)
    return events  # type: ignore[return-value]


def post_note(client: TestClient, call_id: str, text: str, **extra: str) -> dict[str, Any]:
    response = client.post(f"/v1/calls/{call_id}/notes", json={"text": text, **extra}, headers=auth("cad"))
    assert response.status_code == 202, response.text
    answer: dict[str, Any] = response.json()
    return answer


@pytest.mark.integration
def test_the_first_post_answers_as_before_with_updated_false(client: TestClient) -> None:
    response = client.post("/v1/calls", json=submission(), headers=auth("cad"))
    assert response.status_code == 202
    body = response.json()
    assert body == {"call_id": body["call_id"], "status": "received", "updated": False, "revision": 1}


@pytest.mark.integration
def test_an_identical_repeat_changes_nothing_and_publishes_nothing(client: TestClient) -> None:
    payload = submission(narrative=FIRST, call_type="MNTL", location={"address": "1 Library Sq"})
    first = client.post("/v1/calls", json=payload, headers=auth("cad")).json()
    again = client.post("/v1/calls", json=payload, headers=auth("cad"))
    assert again.status_code == 200
    assert again.json() == {**first, "updated": False, "revision": 1}
    # An empty location sent again as no location is the same incident too.
    bare = submission(narrative="Woman shouting at cars")
    client.post("/v1/calls", json=bare, headers=auth("cad"))
    assert (
        client.post("/v1/calls", json={**bare, "location": {}}, headers=auth("cad")).json()["updated"]
        is False
    )
    assert staged_topics(client) == [Topic.CALLS_RECEIVED, Topic.CALLS_RECEIVED]
    with transaction(engine_of(client)) as session:
        assert session.exec(select(CallChange)).all() == []


@pytest.mark.integration
async def test_a_changed_resend_updates_the_call_and_publishes_the_whole_text(
    client: TestClient, namespace: str
) -> None:
    payload = submission(narrative=FIRST, call_type="MNTL")
    call_id = client.post("/v1/calls", json=payload, headers=auth("cad")).json()["call_id"]
    post_note(client, call_id, "caller is his sister")

    resent = {**payload, "narrative": FIRST + ", now shouting", "location": {"address": "2 Main St"}}
    response = client.post("/v1/calls", json=resent, headers=auth("cad"))
    assert response.status_code == 200
    assert response.json() == {"call_id": call_id, "status": "received", "updated": True, "revision": 3}

    events = await updates(namespace, count=2)
    assert [(e.revision, e.change) for e in events] == [(2, "note"), (3, "resent")]
    resend = events[1]
    assert str(resend.call_id) == call_id and resend.cad_incident_id == payload["cad_incident_id"]
    # The resent narrative replaces the first; the note follows it.
    assert resend.narrative == FIRST + ", now shouting\ncaller is his sister"
    assert resend.call_type == "MNTL"
    assert resend.location is not None and resend.location.address == "2 Main St"
    assert resend.updated_at >= resend.received_at

    ledger_record = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
    assert ledger_record["revision"] == 3
    assert ledger_record["location"]["address"] == "2 Main St"
    changes = [
        (s["step"], s["status"], s.get("revision"), s.get("change")) for s in ledger_record["timeline"]
    ]
    assert changes == [
        ("received", "received", None, None),
        ("note", None, 2, "note"),
        ("updated", None, 3, "resent"),
    ]
    assert "shouting" not in str(ledger_record) and "sister" not in str(ledger_record)


@pytest.mark.integration
async def test_a_note_is_appended_in_time_order_and_published(client: TestClient, namespace: str) -> None:
    call_id = client.post("/v1/calls", json=submission(narrative=FIRST), headers=auth("cad")).json()[
        "call_id"
    ]
    now = utcnow()
    first = post_note(client, call_id, "now he has a knife", at=now.isoformat())
    earlier = post_note(client, call_id, "he was calm before", at=(now - timedelta(minutes=5)).isoformat())
    assert (first["revision"], first["updated"]) == (2, True)
    assert earlier["revision"] == 3

    events = await updates(namespace, count=2)
    assert [e.change for e in events] == ["note", "note"]
    assert events[0].narrative == f"{FIRST}\nnow he has a knife"
    assert events[1].narrative == f"{FIRST}\nhe was calm before\nnow he has a knife"
    assert events[1].updated_at < events[0].updated_at  # the note's own time


@pytest.mark.integration
def test_a_change_to_an_unknown_call_is_404(client: TestClient) -> None:
    unknown = "00000000-0000-0000-0000-000000000000"
    response = client.post(f"/v1/calls/{unknown}/notes", json={"text": "x"}, headers=auth("cad"))
    assert response.status_code == 404
    assert response.json() == {"detail": f"no call {unknown}"}


@pytest.mark.integration
def test_notes_need_a_cad_key_and_a_valid_body(client: TestClient) -> None:
    call_id = client.post("/v1/calls", json=submission(), headers=auth("cad")).json()["call_id"]
    assert (
        client.post(f"/v1/calls/{call_id}/notes", json={"text": "x"}, headers=auth("console")).status_code
        == 403
    )
    refused = client.post(f"/v1/calls/{call_id}/notes", json={"text": ""}, headers=auth("cad"))
    assert refused.status_code == 422 and any("text" in e["loc"] for e in refused.json()["detail"])
    assert staged_topics(client) == [Topic.CALLS_RECEIVED]


@pytest.mark.integration
@pytest.mark.parametrize("closing", [CallStatus.RESOLVED, CallStatus.CANCELLED])
def test_a_closed_call_refuses_changes_with_409_but_answers_a_repeat(
    client: TestClient, closing: CallStatus
) -> None:
    payload = submission(narrative=FIRST)
    call_id = client.post("/v1/calls", json=payload, headers=auth("cad")).json()["call_id"]
    with transaction(engine_of(client)) as session:
        ledger.record_status(session, status_changed(UUID(call_id), closing, later(30)))

    note = client.post(f"/v1/calls/{call_id}/notes", json={"text": "more"}, headers=auth("cad"))
    resent = client.post("/v1/calls", json={**payload, "narrative": "changed"}, headers=auth("cad"))
    repeat = client.post("/v1/calls", json=payload, headers=auth("cad"))

    for refused in (note, resent):
        assert refused.status_code == 409
        assert refused.json() == {"detail": f"call {call_id} is {closing.value}; it takes no more changes"}
    assert repeat.status_code == 200 and repeat.json()["updated"] is False
    assert staged_topics(client) == [Topic.CALLS_RECEIVED]


@pytest.mark.integration
def test_notes_stop_at_the_call_text_limit_and_a_refused_one_leaves_no_trace(client: TestClient) -> None:
    call_id = client.post("/v1/calls", json=submission(narrative=FIRST), headers=auth("cad")).json()[
        "call_id"
    ]
    long_note = {"text": "n" * NOTE_MAX_CHARS}
    # The whole text is the narrative and each note on a line of its own.
    fitting = (ledger.CALL_TEXT_MAX_CHARS - len(FIRST)) // (NOTE_MAX_CHARS + 1)
    answers = [
        client.post(f"/v1/calls/{call_id}/notes", json=long_note, headers=auth("cad"))
        for _ in range(fitting + 1)
    ]
    assert [a.status_code for a in answers] == [202] * fitting + [409]
    assert "characters of text" in answers[-1].json()["detail"]
    # The refused note is neither counted nor staged.
    accepted = answers[:-1]
    assert client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()["revision"] == len(accepted) + 1
    assert staged_topics(client).count(Topic.CALLS_UPDATED) == len(accepted)


@pytest.mark.integration
async def test_a_burst_of_notes_gets_one_revision_each_without_gaps(
    client: TestClient, namespace: str
) -> None:
    call_id = client.post("/v1/calls", json=submission(narrative=FIRST), headers=auth("cad")).json()[
        "call_id"
    ]
    texts = [f"update number {n}" for n in range(10)]
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda text: post_note(client, call_id, text), texts))

    assert sorted(answer["revision"] for answer in answers) == list(range(2, 12))
    events = await updates(namespace, count=10)
    assert sorted(e.revision for e in events) == list(range(2, 12))
    last = max(events, key=lambda e: e.revision)
    lines = last.narrative.split("\n")
    assert lines[0] == FIRST and sorted(lines[1:]) == sorted(texts)
    assert client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()["revision"] == 11


@pytest.mark.integration
def test_concurrent_first_posts_of_one_incident_make_one_call(client: TestClient) -> None:
    payload = submission(narrative=FIRST)
    with ThreadPoolExecutor(max_workers=6) as pool:
        responses = list(
            pool.map(lambda _: client.post("/v1/calls", json=payload, headers=auth("cad")), range(6))
        )
    assert sorted(r.status_code for r in responses) == [200] * 5 + [202]
    assert len({r.json()["call_id"] for r in responses}) == 1
    assert all(r.json()["updated"] is False for r in responses)
    assert staged_topics(client) == [Topic.CALLS_RECEIVED]


@pytest.mark.integration
def test_retention_clears_the_text_of_every_change(client: TestClient) -> None:
    payload = submission(narrative=FIRST)
    call_id = client.post("/v1/calls", json=payload, headers=auth("cad")).json()["call_id"]
    post_note(client, call_id, "now he has a knife")
    client.post("/v1/calls", json={**payload, "narrative": "changed"}, headers=auth("cad"))

    engine = engine_of(client)
    assert purge(engine, purge_before, utcnow() + timedelta(minutes=1)).calls == 1
    with transaction(engine) as session:
        changes = session.exec(select(CallChange)).all()
    assert [(c.revision, c.narrative) for c in changes] == [(2, None), (3, None)]

    # A note made after the purge is due again at the next pass.
    post_note(client, call_id, "a later note")
    assert purge(engine, purge_before, utcnow() + timedelta(minutes=1)).calls == 1
    with transaction(engine) as session:
        assert all(c.narrative is None for c in session.exec(select(CallChange)))


@pytest.fixture
def triage_engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine, migrations_dir=TRIAGE_MIGRATIONS, service="triage")
    yield engine
    engine.dispose()


@pytest.mark.db
def test_triage_decides_each_revision_once_in_whatever_order_they_arrive(triage_engine: Engine) -> None:
    call_id = new_call_id()
    received = CallReceived(call_id=call_id, cad_incident_id="CAD-T1", narrative=FIRST, received_at=T0)
    updated = CallUpdated(
        call_id=call_id,
        cad_incident_id="CAD-T1",
        revision=2,
        change="note",
        narrative=f"{FIRST}\nnow he has a knife and is waving it at people",
        received_at=T0,
        updated_at=later(5),
    )
    policy = default_policy()
    outbox = Outbox(TriageOutbox, source="/dispatch/triage")
    # Revision 2 overtakes revision 1 (two topics), then both are redelivered.
    for event in (updated, received, updated, received):
        with transaction(triage_engine) as session:
            triage_call(session, call=event, policy=policy, outbox=outbox)

    with transaction(triage_engine) as session:
        decisions = {d.revision: d for d in session.exec(select(Decision))}
        staged = [CallTriaged.model_validate_json(row.payload) for row in session.exec(select(TriageOutbox))]
    assert sorted(decisions) == [1, 2]
    assert [e.revision for e in staged] == [2, 1]  # one CallTriaged per revision, the late one too
    by_revision = {e.revision: e.decision for e in staged}
    assert by_revision[1].route == "clinician_only" and by_revision[2].route != "clinician_only"
    assert decisions[2].route == by_revision[2].route


@pytest.mark.db
def test_triage_keeps_its_earlier_decisions_as_revision_1_when_migrated(database_url: str) -> None:
    engine = make_engine(database_url)
    config = migration_config(migrations_dir=TRIAGE_MIGRATIONS, service="triage")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "0002")
        connection.execute(
            text(
                "INSERT INTO triage_decisions (call_id, route, threat_level, priority, policy_version,"
                " record, decided_at) VALUES ('c-1', 'police', 'high', 1, 'v1', '{}', :at)"
            ),
            {"at": T0.replace(tzinfo=None)},
        )
    migrate(engine, migrations_dir=TRIAGE_MIGRATIONS, service="triage")
    with transaction(engine) as session:
        kept = session.get(Decision, ("c-1", 1))
        assert kept is not None
        session.add(Decision.model_validate(kept.model_dump() | {"revision": 2}))  # the new key takes it
    with transaction(engine) as session:
        rows = sorted((d.call_id, d.revision, d.route) for d in session.exec(select(Decision)))
    engine.dispose()
    assert rows == [("c-1", 1, "police"), ("c-1", 2, "police")]
