"""A call's whole life as it changes, through the three services on the real broker.

Posted and sent to a clinician team; a note with a weapon escalates it (a co-response or police
unit joins the team); a dispatcher overrides it back with a reason; the team asks for police
backup; it is resolved. intake's ledger shows every step in order, and routing's insights show the
override, the backup and why the call was not served as triaged. A second test times an escalating
note to the added unit's assignment over 20 calls (the figure is printed, never asserted).
"""

import statistics
import time
from datetime import datetime, timedelta
from typing import Any

import httpx
import pytest
from dispatch_shared.events import Route

from tests.e2e.conftest import Stack
from tests.e2e.test_call_updates import ledger_until
from tests.factories import submission
from tests.stack import auth

pytestmark = pytest.mark.e2e

WHERE = {"lat": 47.6097, "lon": -122.3422}
FIRST = "Man talking to himself outside the library, not bothering anyone"
NOTE = "now he has a knife and is waving it at people"


def units(suffix: str, *kinds: str) -> list[dict[str, Any]]:
    return [
        {"unit_id": f"{kind}-{suffix}", "type": kind, "name": f"{kind} {suffix}", **WHERE} for kind in kinds
    ]


def routing_call(stack: Stack, call_id: str) -> dict[str, Any]:
    response = httpx.get(f"{stack['routing'].url}/v1/calls/{call_id}", headers=auth("console"), timeout=10)
    assert response.status_code == 200, response.text
    return dict(response.json())


def routing_until(stack: Stack, call_id: str, until: Any, what: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    call: dict[str, Any] = {}
    while time.monotonic() < deadline:
        response = httpx.get(
            f"{stack['routing'].url}/v1/calls/{call_id}", headers=auth("console"), timeout=10
        )
        if response.status_code == 200 and until(call := response.json()):
            return call
        time.sleep(0.02)
    raise AssertionError(f"routing never showed {what}: {call}")


def post_call(client: httpx.Client, narrative: str) -> str:
    posted = client.post(
        "/v1/calls", json=submission(narrative=narrative, location=WHERE), headers=auth("cad")
    )
    assert posted.status_code == 202, posted.text
    return str(posted.json()["call_id"])


def test_a_call_escalated_overridden_backed_up_and_resolved_is_on_the_record(stack: Stack) -> None:
    routing = stack["routing"].url
    added = httpx.post(
        f"{routing}/v1/units",
        json=units("E2E", "clinician", "co_response", "police") + units("E2E-2", "police"),
        headers=auth("ops"),
        timeout=10,
    )
    assert added.status_code == 200, added.text
    started = datetime.now().astimezone() - timedelta(minutes=1)
    with httpx.Client(base_url=stack["intake"].url, timeout=10) as intake:
        call_id = post_call(intake, FIRST)
        first = routing_until(stack, call_id, lambda c: c["status"] == "assigned", "the first assignment")
        assert (first["route"], first["unit"]["type"]) == (Route.CLINICIAN_ONLY, "clinician")

        assert (
            intake.post(f"/v1/calls/{call_id}/notes", json={"text": NOTE}, headers=auth("cad")).status_code
            == 202
        )
        escalated = routing_until(
            stack, call_id, lambda c: len(c["units"]) == 2, "the escalation's added unit"
        )
        assert escalated["route"] in {Route.CO_RESPONSE, Route.POLICE}
        joined = [u["type"] for u in escalated["units"] if u["role"] == "added"]
        assert joined in (["co_response"], ["police"])

        back = httpx.post(
            f"{routing}/v1/calls/{call_id}/override",
            json={
                "route": "clinician_only",
                "reason": "clinician_request",
                "notes": "team says he put it down",
            },
            headers=auth("console"),
            timeout=10,
        )
        assert back.status_code == 200, back.text
        assert back.json()["route"] == Route.CLINICIAN_ONLY
        assert back.json()["decision"]["route"] == escalated["route"]  # triage's reading stays beside it

        backup = httpx.post(
            f"{routing}/v1/calls/{call_id}/status",
            json={"status": "backup_requested", "reason": "crowd gathering"},
            headers=auth("unit"),
            timeout=10,
        )
        assert backup.status_code == 200, backup.text
        backed = routing_until(
            stack, call_id, lambda c: any(u["backup_reason"] for u in c["units"]), "the backup"
        )
        assert [u["type"] for u in backed["units"] if u["backup_reason"]] == ["police"]  # police by default

        for status in ("en_route", "on_scene"):
            stepped = httpx.post(
                f"{routing}/v1/calls/{call_id}/status",
                json={"status": status},
                headers=auth("unit"),
                timeout=10,
            )
            assert stepped.status_code == 200, stepped.text
        resolved = httpx.post(
            f"{routing}/v1/calls/{call_id}/status",
            json={"status": "resolved", "disposition": "referred_to_services"},
            headers=auth("unit"),
            timeout=10,
        )
        assert resolved.status_code == 200, resolved.text

        record = ledger_until(
            intake, call_id, lambda r: any(s["step"] == "resolved" for s in r["timeline"]), "the resolution"
        )
    steps = [(s["step"], s.get("reason")) for s in record["timeline"]]
    order: list[tuple[str | None, str | None]] = [
        ("received", None),
        ("triaged", None),
        ("note", None),
        ("triaged", None),
        (None, "re_triaged"),
        (None, "override"),
        (None, "backup"),
        ("resolved", None),
    ]
    positions: list[int] = []
    for step, reason in order:
        found = [
            i
            for i, (s, r) in enumerate(steps)
            if (step is None or s == step) and (reason is None or r == reason)
        ]
        assert found, f"the ledger lacks {(step, reason)}: {steps}"
        later = [i for i in found if not positions or i > positions[-1]]
        assert later, f"{(step, reason)} is out of order: {steps}"
        positions.append(later[0])

    window = {
        "since": started.isoformat(),
        "until": (datetime.now().astimezone() + timedelta(minutes=1)).isoformat(),
    }
    outcomes = httpx.get(
        f"{routing}/v1/insights/outcomes", params=window, headers=auth("ops"), timeout=10
    ).json()
    final = outcomes["routes"][Route.CLINICIAN_ONLY]
    assert final["backup_requests"] == 1 and final["re_triage_escalations"] == 1
    system = outcomes["routes"][escalated["route"]]  # overrides are counted under the system's route
    assert system["overrides"] == 1 and system["overrides_by_reason"]["clinician_request"] == 1
    unserved = httpx.get(
        f"{routing}/v1/insights/unserved", params=window, headers=auth("ops"), timeout=10
    ).json()
    reasons = {(row["route"], row["reason"]) for row in unserved["by_route_and_reason"]}
    assert ("clinician_only", "escalated_by_safety") in reasons
    assert unserved["eligible_calls"] == 1 and unserved["served_as_triaged"] == 0
    assert NOTE not in stack.logs() and FIRST not in stack.logs()


RUNS = 20


def test_time_from_an_escalating_note_to_the_added_unit(
    stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    added = httpx.post(
        f"{stack['routing'].url}/v1/units",
        json=units("T", "clinician", "co_response", "police"),
        headers=auth("ops"),
        timeout=10,
    )
    assert added.status_code == 200, added.text
    seconds = []
    with httpx.Client(base_url=stack["intake"].url, timeout=10) as intake:
        for _ in range(RUNS):
            call_id = post_call(intake, FIRST)
            routing_until(stack, call_id, lambda c: c["status"] == "assigned", "the first assignment")
            noted_at = datetime.now().astimezone()
            assert (
                intake.post(
                    f"/v1/calls/{call_id}/notes", json={"text": NOTE}, headers=auth("cad")
                ).status_code
                == 202
            )
            call = routing_until(stack, call_id, lambda c: len(c["units"]) == 2, "the added unit")
            [joined] = [u for u in call["units"] if u["role"] == "added"]
            seconds.append((datetime.fromisoformat(joined["assigned_at"]) - noted_at).total_seconds())
            resolved = httpx.post(
                f"{stack['routing'].url}/v1/calls/{call_id}/status",
                json={"status": "cancelled"},
                headers=auth("unit"),
                timeout=10,
            )
            assert resolved.status_code == 200, resolved.text  # frees both units for the next run
    assert all(s > 0 for s in seconds)  # assigned after the note was posted, on one machine's clock
    with capsys.disabled():
        ms = sorted(round(s * 1000) for s in seconds)
        print(
            f"\n[e2e] escalating note -> added unit, {RUNS} calls: median {statistics.median(ms):.0f} ms, "
            f"min {ms[0]} ms, max {ms[-1]} ms"
        )
