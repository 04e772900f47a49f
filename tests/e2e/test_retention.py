"""Retention reaches every service: once a call is past RETENTION_DAYS, no table of any service
holds its narrative, the caller's details, a phrase triage matched in it or a responder's notes.

The three services run with a retention window of seconds and a purge every half second. A call
with a distinctive narrative is routed and cancelled with notes; every table is dumped while the
call is inside the window (the scan must find it everywhere it is kept, so the scan can fail), and
again once the window has passed, when it must find nothing while the decision codes and
outcomes stay. The services share one database here, as they may in production.
"""

import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from dispatch_shared.db import make_engine

from tests.e2e.conftest import Stack
from tests.stack import auth

pytestmark = pytest.mark.e2e

WINDOW_SECONDS = 30  # long enough to see the call stored everywhere before it is due


@pytest.fixture
def short_retention_stack(
    tmp_path: Path, namespace: str, database_url: str, kafka_bootstrap: str
) -> Iterator[Stack]:
    stack = Stack(tmp_path, namespace=namespace, database_url=database_url, bootstrap=kafka_bootstrap)
    stack.env |= {
        "RETENTION_DAYS": str(WINDOW_SECONDS / 86_400),
        "RETENTION_CHECK_SECONDS": "0.5",
    }
    stack.start()
    yield stack
    stack.stop()


def dump(engine: sa.Engine) -> dict[str, str]:
    """Every row of every table in the database, as text, one string per table."""
    tables: dict[str, str] = {}
    with engine.connect() as connection:
        inspector = sa.inspect(connection)
        for name in inspector.get_table_names():
            table = sa.table(name, *(sa.column(column["name"]) for column in inspector.get_columns(name)))
            rows = connection.execute(sa.select(table))
            tables[name] = "\n".join(" | ".join(str(value) for value in row) for row in rows)
    return tables


def holders(tables: dict[str, str], needles: list[str]) -> dict[str, list[str]]:
    """For each needle found, the tables that hold it (case-insensitive)."""
    found: dict[str, list[str]] = {}
    for needle in needles:
        where = [name for name, content in tables.items() if needle.lower() in content.lower()]
        if where:
            found[needle] = sorted(where)
    return found


def wait_for(what: str, probe: Any, timeout: float) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"never saw {what}")
        time.sleep(0.3)


def test_no_service_keeps_a_narrative_past_retention(short_retention_stack: Stack, database_url: str) -> None:
    stack = short_retention_stack
    tag = uuid.uuid4().hex[:8]
    name = f"Quillonby{tag}"
    narrative = f"Caller {name} says her brother wants to die and keeps crying, he is not armed."
    caller = {"name": f"Pat {name}", "phone": "555-0147"}
    notes = f"Met {name}; he said again he wants to die, family staying with him."
    intake = httpx.Client(base_url=stack["intake"].url, timeout=10)
    routing = httpx.Client(base_url=stack["routing"].url, timeout=10)
    engine = make_engine(database_url)
    try:
        posted = intake.post(
            "/v1/calls",
            json={"cad_incident_id": f"RET-{tag}", "narrative": narrative, "caller": caller},
            headers=auth("cad"),
        )
        assert posted.status_code == 202, posted.text
        call_id = posted.json()["call_id"]

        def routed_with_decision() -> dict[str, Any] | None:
            record = intake.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
            return record if record.get("decision") and record.get("status") == "queued" else None

        before = wait_for("the call routed in the ledger", routed_with_decision, timeout=WINDOW_SECONDS / 3)
        decision = before["decision"]
        # Phrases matched in the narrative; one that is also a word of the codes or explanation the
        # decision keeps by design ("crying" of crying_or_fear) would be found for that reason.
        kept = " ".join(
            [decision["explanation"], *(i["code"] for i in decision["indicators"] + decision["negated"])]
        )
        excerpts = [
            i["text"]
            for i in decision["indicators"] + decision["negated"]
            if i["text"] and i["text"].lower() not in kept.lower().replace("_", " ")
        ]
        assert "wants to die" in [e.lower() for e in excerpts], decision  # the phrase to look for

        cancelled = routing.post(
            f"/v1/calls/{call_id}/status", json={"status": "cancelled", "notes": notes}, headers=auth("unit")
        )
        assert cancelled.status_code == 200, cancelled.text
        wait_for(
            "the ledger cancelled",
            lambda: (
                intake.get(f"/v1/calls/{call_id}", headers=auth("console")).json()["status"] == "cancelled"
            ),
            timeout=10,
        )

        needles = [narrative, name, caller["phone"], notes, *excerpts]
        stored = holders(dump(engine), needles)
        # Inside the window every service keeps what it needs; the scan must see all of it.
        assert {"intake_calls", "intake_outbox"} <= set(stored[name]), stored
        assert {"triage_decisions", "triage_outbox", "routing_calls"} <= set(stored["wants to die"]), stored
        assert "routing_calls" in stored[notes] and "routing_outbox" in stored[notes], stored

        deadline = time.monotonic() + WINDOW_SECONDS + 30
        while (left := holders(dump(engine), needles)) and time.monotonic() < deadline:
            time.sleep(0.5)
        assert left == {}, f"still stored after the retention window: {left}"

        # The purge kept what insights and the ledger need: codes, route, rule, outcome.
        after = intake.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
        assert after["status"] == "cancelled" and after["route"] == before["route"]
        assert after["decision"]["rule"] == decision["rule"]
        assert [i["code"] for i in after["decision"]["indicators"]] == [
            i["code"] for i in decision["indicators"]
        ]
        routed = routing.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
        assert routed["status"] == "cancelled" and routed["notes"] is None
        assert routed["decision"]["rule"] == decision["rule"]
        assert [i["code"] for i in routed["decision"]["indicators"]] == [
            i["code"] for i in decision["indicators"]
        ]
        with engine.connect() as connection:
            triage_row = connection.execute(
                sa.text(
                    "SELECT route, priority, policy_version, record FROM triage_decisions WHERE call_id = :id"
                ),
                {"id": call_id},
            ).one()
        assert triage_row.route == before["route"] and triage_row.priority == before["priority"]
        assert triage_row.policy_version == decision["policy_version"]
        assert narrative not in stack.logs()
    finally:
        engine.dispose()
        intake.close()
        routing.close()
