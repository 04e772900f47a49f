"""routing over HTTP on a real database and broker: roster, lifecycle, bad input, roles, insights."""

import asyncio
import json
import re
import time
from collections.abc import Iterator
from datetime import timedelta
from typing import Any, TypeVar
from uuid import uuid4

import httpx
import pytest
from alembic import command
from dispatch_shared.auth import Role
from dispatch_shared.cloudevents import decode
from dispatch_shared.db import make_engine, migration_config, transaction
from dispatch_shared.events import (
    CallStatusChanged,
    CallTriaged,
    Event,
    Location,
    Route,
    Topic,
    UnitStatusChanged,
)
from fastapi.testclient import TestClient
from routing import dispatch
from routing.app import MIGRATIONS, RoutingSettings, create_app
from routing.stream_tokens import StreamTokens
from sqlalchemy import text

from tests.factories import T0, decision
from tests.stack import API_KEYS, TEST_KEYS, app_of, auth, collect, runtime_of

# Each test names its tier: db (a database only) or integration (the broker too).

E = TypeVar("E", bound=Event)

PIKE_PLACE: dict[str, Any] = {"lat": 47.6097, "lon": -122.3422}
CAPITOL_HILL: dict[str, Any] = {"lat": 47.6253, "lon": -122.3222}
TOKEN_SECRET = "stream-token-secret-for-tests-0123456789"


@pytest.fixture
def client(database_url: str, namespace: str, kafka_bootstrap: str) -> Iterator[TestClient]:
    app = create_app(
        RoutingSettings(
            database_url=database_url,
            kafka_bootstrap_servers=kafka_bootstrap,
            kafka_namespace=namespace,
            api_keys=API_KEYS,
            outbox_poll_seconds=0.1,
            stream_token_secret=TOKEN_SECRET,
        )
    )
    with TestClient(app) as client:
        yield client


def triaged(
    client: TestClient,
    route: Route = Route.CLINICIAN_ONLY,
    *,
    minutes: int = 0,
    crisis: bool = True,
    reading: dict[str, Any] | None = None,
    **where: Any,
) -> str:
    """Route a triaged call as the consumer would; returns its id. ``reading``: decision fields."""
    runtime = runtime_of(client)
    call_id = uuid4()
    event = CallTriaged(
        call_id=call_id,
        decision=decision(route=route, crisis=crisis, **(reading or {})),
        location=Location(**where) if where else None,
        received_at=T0 + timedelta(minutes=minutes),
        triaged_at=T0 + timedelta(minutes=minutes),
    )
    with transaction(runtime.engine) as session:
        dispatch.route_call(
            session,
            event=event,
            chains=app_of(client).state.fallbacks,
            outbox=runtime.outbox,
        )
    return str(call_id)


def add_units(client: TestClient, *units: dict[str, Any]) -> None:
    response = client.post("/v1/units", json=list(units), headers=auth("ops"))
    assert response.status_code == 200, response.text


def step(client: TestClient, call_id: str, status: str, **fields: Any) -> httpx.Response:
    body = {"status": status, **fields}
    response: httpx.Response = client.post(f"/v1/calls/{call_id}/status", json=body, headers=auth("unit"))
    return response


def unit(unit_id: str, unit_type: str, **fields: Any) -> dict[str, Any]:
    return {"unit_id": unit_id, "type": unit_type, "name": f"Unit {unit_id}", **fields}


def fields_of(response: httpx.Response) -> list[str]:
    return [".".join(map(str, e["loc"][1:])) for e in response.json()["detail"]]


@pytest.mark.integration
def test_roster_register_update_and_read(client: TestClient) -> None:
    one = client.post("/v1/units", json=unit("CL-1", "clinician", **PIKE_PLACE), headers=auth("ops"))
    assert one.status_code == 200 and one.json()["status"] == "available"
    add_units(client, unit("P-1", "police"), unit("CL-1", "clinician", name="Clinician One", **CAPITOL_HILL))

    listed = client.get("/v1/units", headers=auth("console")).json()
    assert listed["total"] == 2
    cl1 = client.get("/v1/units/CL-1", headers=auth("console")).json()
    assert (cl1["name"], cl1["lat"]) == ("Clinician One", CAPITOL_HILL["lat"])
    assert client.get("/v1/units", params={"type": "police"}, headers=auth("console")).json()["total"] == 1

    out = client.put("/v1/units/P-1/status", json={"status": "out_of_service"}, headers=auth("unit"))
    assert out.status_code == 200 and out.json()["status"] == "out_of_service"
    assert (
        client.get("/v1/units", params={"status": "available"}, headers=auth("console")).json()["total"] == 1
    )


@pytest.mark.integration
def test_bad_roster_input_names_the_field(client: TestClient) -> None:
    bad = client.post("/v1/units", json=unit("CL 1", "ambulance"), headers=auth("ops"))
    assert bad.status_code == 422
    assert set(fields_of(bad)) == {"unit_id", "type"}  # the field, never the body's union member
    in_a_list = client.post(
        "/v1/units", json=[unit("CL-1", "clinician"), unit("CL-2", "boat")], headers=auth("ops")
    )
    assert in_a_list.status_code == 422
    assert [error["loc"] for error in in_a_list.json()["detail"]] == [["body", 1, "type"]]
    too_many = client.post(
        "/v1/units", json=[unit(f"U-{n}", "police") for n in range(501)], headers=auth("ops")
    )
    assert too_many.status_code == 422
    assert client.post("/v1/units", json=[], headers=auth("ops")).status_code == 422
    assert client.post("/v1/units", json="CL-1", headers=auth("ops")).status_code == 422
    assert client.post("/v1/units", content=b"{not json", headers=auth("ops")).status_code == 422
    assert client.get("/v1/units/no%20such", headers=auth("console")).status_code == 422
    assert client.get("/v1/units/NOPE", headers=auth("console")).status_code == 404
    assert (
        client.put("/v1/units/NOPE/status", json={"status": "available"}, headers=auth("unit")).status_code
        == 404
    )
    bad_status = client.put("/v1/units/NOPE/status", json={"status": "resting"}, headers=auth("unit"))
    assert bad_status.status_code == 422 and fields_of(bad_status) == ["status"]


@pytest.mark.integration
def test_working_statuses_are_not_set_on_the_roster(client: TestClient) -> None:
    add_units(client, unit("CL-1", "clinician"))
    refused = client.put("/v1/units/CL-1/status", json={"status": "on_scene"}, headers=auth("unit"))
    assert refused.status_code == 409
    assert refused.json()["allowed"] == ["available", "out_of_service"]

    triaged(client)  # CL-1 is now dispatched
    busy = client.put("/v1/units/CL-1/status", json={"status": "out_of_service"}, headers=auth("unit"))
    assert busy.status_code == 409 and "CL-1" in busy.json()["detail"] and busy.json()["allowed"] == []
    # Registering the busy unit as another type is refused with the same body as the status route.
    retyped = client.post("/v1/units", json=unit("CL-1", "police"), headers=auth("ops"))
    assert retyped.status_code == 409
    assert set(retyped.json()) == {"detail", "allowed"} and "CL-1" in retyped.json()["detail"]
    assert client.get("/v1/units/CL-1", headers=auth("console")).json()["status"] == "dispatched"


@pytest.mark.integration
def test_lifecycle_over_http_with_its_refusals(client: TestClient, namespace: str) -> None:
    add_units(client, unit("CL-1", "clinician", **CAPITOL_HILL))
    call_id = triaged(client, **PIKE_PLACE)

    shown = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
    assert (shown["status"], shown["unit"]["unit_id"]) == ("assigned", "CL-1")
    assert shown["allowed_transitions"] == ["en_route", "on_scene", "cancelled"]
    assert shown["decision"]["explanation"] and shown["location"]["lat"] == PIKE_PLACE["lat"]

    early = step(client, call_id, "resolved", disposition="arrest")
    assert early.status_code == 409
    assert early.json()["allowed"] == ["en_route", "on_scene", "cancelled"]
    assert early.json()["current_status"] == "assigned"
    assert step(client, call_id, "en_route").json()["status"] == "en_route"
    assert step(client, call_id, "on_scene").json()["status"] == "on_scene"
    missing = step(client, call_id, "resolved")
    assert missing.status_code == 422 and fields_of(missing) == ["disposition"]
    done = step(client, call_id, "resolved", disposition="referred_to_services", use_of_force=False)
    assert done.status_code == 200 and done.json()["disposition"] == "referred_to_services"
    again = step(client, call_id, "cancelled")
    assert again.status_code == 409 and again.json()["allowed"] == []

    assert step(client, str(uuid4()), "en_route").status_code == 404
    assert step(client, "not-a-uuid", "en_route").status_code == 422
    assert client.get(f"/v1/calls/{uuid4()}", headers=auth("console")).status_code == 404

    published = await_records(namespace + Topic.CALLS_STATUS, 3)
    changes = events_of(published, CallStatusChanged)
    assert [c.status for c in sorted(changes, key=lambda c: c.changed_at)] == [
        "en_route",
        "on_scene",
        "resolved",
    ]
    units = [decode(r.headers, r.value).event for r in await_records(namespace + Topic.UNITS_STATUS, 5)]
    assert all(isinstance(u, UnitStatusChanged) and u.unit_id == "CL-1" for u in units)


def await_records(topic: str, count: int) -> list[Any]:
    return asyncio.run(collect(topic, count=count))


def events_of(records: list[Any], model: type[E]) -> list[E]:
    """The decoded events of Kafka ``records``; fails unless every one is a ``model``."""
    events = [decode(r.headers, r.value).event for r in records]
    typed = [e for e in events if isinstance(e, model)]
    assert len(typed) == len(events), events
    return typed


@pytest.mark.integration
def test_calls_list_in_dispatch_order_and_by_status(client: TestClient) -> None:
    later_call = triaged(client, Route.POLICE, minutes=5)
    first_call = triaged(client, Route.POLICE, minutes=1)
    page = client.get("/v1/calls", params={"status": "queued"}, headers=auth("console")).json()
    assert [c["call_id"] for c in page["items"]] == [first_call, later_call] and page["total"] == 2
    assert (
        client.get("/v1/calls", params={"status": "resolved"}, headers=auth("console")).json()["total"] == 0
    )
    assert client.get("/v1/calls", params={"status": "lost"}, headers=auth("console")).status_code == 422
    assert client.get("/v1/calls", params={"limit": 0}, headers=auth("console")).status_code == 422


@pytest.mark.integration
def test_each_area_admits_only_its_roles(client: TestClient) -> None:
    assert client.get("/v1/units").status_code == 401
    assert (
        client.get("/v1/units", headers={"Authorization": "Bearer wrong-key-0123456789"}).status_code == 401
    )
    assert client.post("/v1/units", json=unit("P-1", "police"), headers=auth("console")).status_code == 403
    assert client.get("/v1/insights/outcomes", headers=auth("console")).status_code == 403
    assert client.get("/v1/calls", headers=auth("cad")).status_code == 403
    assert (
        client.post(
            f"/v1/calls/{uuid4()}/status", json={"status": "en_route"}, headers=auth("cad")
        ).status_code
        == 403
    )
    assert client.get("/v1/stream", headers=auth("unit")).status_code == 403
    assert client.post("/v1/stream/token", headers=auth("unit")).status_code == 403
    assert client.post("/v1/stream/token").status_code == 401
    assert client.get("/healthz").status_code == 200


def open_stream(client: TestClient, **request: Any) -> Any:
    """Open the stream with the server's stream gate closed, so it answers and ends at once."""
    client.app.state.stream_gate.closed = True  # type: ignore[attr-defined]
    return client.get("/v1/stream", **request)


@pytest.mark.integration
def test_the_stream_opens_with_a_short_lived_token_never_with_a_key_in_the_url(client: TestClient) -> None:
    issued = client.post("/v1/stream/token", headers=auth("console"))
    assert issued.status_code == 200 and issued.headers["cache-control"] == "no-store"
    body = issued.json()
    assert body["token_type"] == "stream" and body["expires_in"] == 60
    assert TEST_KEYS["console"] not in body["token"]

    opened = open_stream(client, params={"token": body["token"]})
    assert opened.status_code == 200 and opened.headers["content-type"].startswith("text/event-stream")
    assert opened.text.startswith("retry: ")
    assert open_stream(client, headers=auth("console")).status_code == 200  # headers still work

    # The key itself is no longer taken from the URL, under either name.
    assert open_stream(client, params={"access_token": TEST_KEYS["console"]}).status_code == 401
    assert open_stream(client, params={"token": TEST_KEYS["console"]}).status_code == 401

    same_secret = StreamTokens(TOKEN_SECRET.encode(), ttl_seconds=60, clock=lambda: time.time() - 61)
    expired = open_stream(client, params={"token": same_secret.issue(Role.CONSOLE).token})
    assert expired.status_code == 401 and "expired" in expired.json()["detail"]
    ops_token = StreamTokens(TOKEN_SECRET.encode(), ttl_seconds=60).issue(Role.OPS).token
    assert open_stream(client, params={"token": ops_token}).status_code == 403  # a role the stream refuses


@pytest.mark.integration
def test_the_console_page_is_served_with_a_strict_policy(client: TestClient) -> None:
    page = client.get("/console")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "EventSource" not in page.text and "/console/assets/console.js" in page.text
    policy = {
        directive.split()[0]: directive.split()[1:]
        for directive in page.headers["content-security-policy"].split("; ")
    }
    assert policy["default-src"] == ["'none'"] and policy["frame-ancestors"] == ["'none'"]
    assert policy["script-src"] == ["'self'"] and policy["style-src"] == ["'self'"]
    assert not any("unsafe" in source for sources in policy.values() for source in sources)
    # Nothing inline for that policy to refuse: no script bodies, style blocks or attributes, handlers.
    scripts = re.findall(r"<script([^>]*)>(.*?)</script>", page.text, re.DOTALL)
    assert scripts and all("src=" in attributes and not body.strip() for attributes, body in scripts)
    assert not re.search(r"<style|\sstyle=|\son[a-z]+=", page.text, re.IGNORECASE)

    script = client.get("/console/assets/console.js")
    assert script.status_code == 200 and "EventSource" in script.text and "/v1/stream/token" in script.text
    assert "access_token" not in script.text
    assert client.get("/console/assets/console.css").status_code == 200
    for response in (page, script, client.get("/v1/calls", headers=auth("console")), client.get("/healthz")):
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"


@pytest.mark.integration
@pytest.mark.parametrize(
    ("reading", "shown"),
    [
        ({"language": "es"}, ("es", False)),
        ({"language": "en", "readable_share": 1.0, "needs_review": False}, ("en", False)),
        # Read, but a third of it in words triage could not read: decided on the rest and held.
        ({"language": "en", "readable_share": 0.65, "needs_review": True}, ("en", True)),
        # Partly unread but not held by triage (one stray word), or held with every word read: no flag.
        ({"language": "en", "readable_share": 0.65, "needs_review": False}, ("en", False)),
        ({"language": "en", "readable_share": 1.0, "needs_review": True}, ("en", False)),
        ({"language": "und"}, ("und", False)),  # e.g. no narrative: nothing to interpret
        # Triage read it (a covered language carried the call): its verdict, not a list here, decides.
        ({"language": "fr"}, ("fr", False)),
        (
            {
                "language": "vi",
                "readable_share": 0.1,
                "rule": "R0_language_not_covered",
                "needs_review": True,
            },
            ("vi", True),
        ),
        ({"language": "und", "readable_share": 0.0, "rule": "R0_language_not_covered"}, ("und", True)),
    ],
)
def test_calls_carry_their_language_and_whether_they_need_an_interpreter(
    client: TestClient, reading: dict[str, Any], shown: tuple[str, bool]
) -> None:
    call_id = triaged(client, reading=reading)
    call = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
    assert (call["language"], call["needs_interpreter"]) == shown
    listed = client.get("/v1/calls", headers=auth("console")).json()["items"]
    assert [(c["language"], c["needs_interpreter"]) for c in listed if c["call_id"] == call_id] == [shown]
    assert call["decision"]["language"] == reading["language"]
    # The language is shown, never routed on: the route and priority are the decision's.
    assert (call["route"], call["priority"]) == ("clinician_only", 3)


@pytest.mark.db
def test_calls_stored_before_the_language_columns_get_them_from_their_decision(database_url: str) -> None:
    config = migration_config(migrations_dir=MIGRATIONS, service="routing")
    engine = make_engine(database_url)
    stored = {
        "call-es": decision(language="es").model_dump_json(),
        "call-r0": decision(language="so", rule="R0_language_not_covered").model_dump_json(),
        "call-de": decision(language="de").model_dump_json(),
        "call-old": json.dumps({"route": "police"}),  # from before triage named languages
    }
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0002")
            for call_id, record in stored.items():
                connection.execute(
                    text(
                        "INSERT INTO routing_calls (call_id, route, priority, status, clinician_followup, "
                        "received_at, routed_at, updated_at, decision) VALUES (:id, 'police', 3, 'queued', "
                        "false, :at, :at, :at, :decision)"
                    ),
                    {"id": call_id, "at": T0.replace(tzinfo=None), "decision": record},
                )
            command.upgrade(config, "head")
            rows = connection.execute(text("SELECT call_id, language, needs_interpreter FROM routing_calls"))
            found = {row[0]: (row[1], bool(row[2])) for row in rows}
    finally:
        engine.dispose()
    assert found == {
        "call-es": ("es", False),
        "call-r0": ("so", True),
        "call-de": ("de", False),
        "call-old": (None, False),
    }


@pytest.mark.integration
def test_insights_reflect_resolved_calls(client: TestClient) -> None:
    add_units(client, unit("CL-1", "clinician"), unit("P-1", "police"))
    clinician_call = triaged(client, Route.CLINICIAN_ONLY, **PIKE_PLACE)
    police_call = triaged(client, Route.POLICE, crisis=False, **PIKE_PLACE)
    for call_id, disposition, force in (
        (clinician_call, "referred_to_services", False),
        (police_call, "arrest", True),
    ):
        assert step(client, call_id, "on_scene").status_code == 200
        resolved = step(client, call_id, "resolved", disposition=disposition, use_of_force=force)
        assert resolved.status_code == 200
    triaged(client, Route.CLINICIAN_ONLY, minutes=30, **PIKE_PLACE)  # a second crisis call at Pike Place

    window = {"since": (T0 - timedelta(hours=1)).isoformat(), "until": (T0 + timedelta(hours=1)).isoformat()}
    report = client.get("/v1/insights/outcomes", params=window, headers=auth("ops"))
    assert report.status_code == 200, report.text
    routes = report.json()["routes"]
    clinician, police = routes["clinician_only"], routes["police"]
    assert (clinician["calls"], clinician["resolved"], clinician["open"]) == (2, 1, 1)
    assert clinician["dispositions"]["referred_to_services"] == 1
    assert (clinician["referral_rate"], clinician["arrest_rate"], clinician["use_of_force_rate"]) == (1, 0, 0)
    assert (police["arrest_rate"], police["use_of_force_rate"]) == (1, 1)
    assert clinician["median_minutes_to_resolve"] > 0 and police["median_minutes_to_scene"] > 0
    assert routes["co_response"]["calls"] == 0

    outside = {"since": (T0 + timedelta(days=1)).isoformat()}
    assert (
        client.get("/v1/insights/outcomes", params=outside, headers=auth("ops")).json()["routes"]["police"][
            "calls"
        ]
        == 0
    )

    places = client.get("/v1/insights/repeat-locations", params=window, headers=auth("ops")).json()["places"]
    assert [(p["place"], p["calls"]) for p in places] == [
        ("47.610,-122.342", 2)
    ]  # the police call was no crisis
    few = client.get("/v1/insights/repeat-locations", params=window | {"min_calls": 3}, headers=auth("ops"))
    assert few.json()["places"] == []


@pytest.mark.integration
def test_insight_windows_are_checked(client: TestClient) -> None:
    backwards = {"since": "2026-11-02T00:00:00Z", "until": "2026-11-01T00:00:00Z"}
    response = client.get("/v1/insights/outcomes", params=backwards, headers=auth("ops"))
    assert response.status_code == 422 and fields_of(response) == ["since"]
    assert (
        client.get("/v1/insights/outcomes", params={"since": "yesterday"}, headers=auth("ops")).status_code
        == 422
    )
    low = client.get("/v1/insights/repeat-locations", params={"min_calls": 1}, headers=auth("ops"))
    assert low.status_code == 422 and fields_of(low) == ["min_calls"]
