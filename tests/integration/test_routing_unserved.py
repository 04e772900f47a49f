"""Eligible calls not served as triaged, recorded with their reason on a real database: service hours
and zones passing a team over, a queue that waited too long, an escalation, an override; and the
report over HTTP."""

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest
from alembic import command
from dispatch_shared.db import make_engine, migration_config, transaction
from dispatch_shared.events import CallTriaged, Location, Route, ThreatLevel, UnitType, utcnow
from dispatch_shared.outbox import Outbox
from routing import dispatch, roster, unserved
from routing.app import MIGRATIONS
from routing.assignment import DEFAULT_FALLBACKS
from routing.coverage import Duty, load_zones
from routing.models import RoutedCall, RoutingOutbox
from sqlalchemy import inspect, text
from sqlalchemy.engine import Engine

from tests.factories import T0, decision
from tests.integration.test_routing_dispatch import engine as engine  # noqa: F401 - the fixture
from tests.integration.test_routing_retriage import PIKE_PLACE, Routing, triaged, unit
from tests.integration.test_routing_retriage import routing as routing  # noqa: F401 - the fixture
from tests.stack import auth

# Each test names its tier: db (a database only) or integration (the broker too).

OUTBOX = Outbox(RoutingOutbox, source="/dispatch/routing")
DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
WINDOW = {"since": (T0 - timedelta(days=1)).isoformat(), "until": (T0 + timedelta(days=1)).isoformat()}
ZONE = {
    "type": "FeatureCollection",
    "features": [
        {
            "type": "Feature",
            "properties": {"name": "pike-market"},
            "geometry": {
                "type": "Polygon",
                "coordinates": [
                    [[-122.35, 47.60], [-122.33, 47.60], [-122.33, 47.62], [-122.35, 47.62], [-122.35, 47.60]]
                ],
            },
        }
    ],
}
INSIDE, OUTSIDE = (47.6097, -122.3422), (47.6687, -122.3847)


def another_day() -> str:
    """A whole-day window on a day that is not today (UTC), so the unit is off shift now."""
    return f"{DAYS[(datetime.now(UTC).weekday() + 3) % 7]} 00:00-24:00"


def report(routing: Routing) -> dict[str, Any]:
    response = routing.client.get("/v1/insights/unserved", params=WINDOW, headers=auth("ops"))
    assert response.status_code == 200, response.text
    return dict(response.json())


def reasons(report: dict[str, Any]) -> dict[tuple[str, str], int]:
    return {(row["route"], row["reason"]): row["calls"] for row in report["by_route_and_reason"]}


def assigned(routing: Routing, route: Route, threat: ThreatLevel = ThreatLevel.NONE) -> UUID:
    call_id = uuid4()
    routing.publish(triaged(call_id, 1, route, threat))
    routing.wait_for(call_id, lambda call: call["status"] == "assigned")
    return call_id


@pytest.mark.integration
def test_an_off_shift_team_sends_the_fallback_and_the_report_says_why(routing: Routing) -> None:
    routing.add_units(
        unit("CL-1", "clinician", PIKE_PLACE) | {"service_hours": [another_day()]},
        unit("CR-1", "co_response", PIKE_PLACE),
    )
    assert routing.unit("CL-1")["service_hours"] == [another_day()]
    off_shift = assigned(routing, Route.CLINICIAN_ONLY)
    assert routing.call(off_shift)["unit"]["unit_id"] == "CR-1"  # type: ignore[index]
    assert routing.unit("CL-1")["status"] == "available"  # free, but not on shift

    routing.add_units(unit("CL-1", "clinician", PIKE_PLACE) | {"service_hours": ["daily 00:00-24:00"]})
    on_shift = assigned(routing, Route.CLINICIAN_ONLY)
    assert routing.call(on_shift)["unit"]["unit_id"] == "CL-1"  # type: ignore[index]

    found = report(routing)
    assert (found["eligible_calls"], found["served_as_triaged"], found["served_as_triaged_share"]) == (
        2,
        1,
        0.5,
    )
    assert reasons(found) == {("clinician_only", "out_of_service_hours"): 1}


@pytest.mark.integration
def test_no_free_team_an_escalation_and_an_override_each_give_their_reason(routing: Routing) -> None:
    routing.add_units(
        unit("CR-1", "co_response", PIKE_PLACE),
        unit("CR-2", "co_response", PIKE_PLACE),
        unit("CR-3", "co_response", PIKE_PLACE),
        unit("P-1", "police", PIKE_PLACE),
        unit("P-2", "police", PIKE_PLACE),
        unit("P-3", "police", PIKE_PLACE),
    )
    fallback = assigned(routing, Route.CLINICIAN_ONLY)  # no clinician team on the roster at all
    escalated = assigned(routing, Route.CO_RESPONSE)
    routing.publish(triaged(escalated, 2, Route.POLICE, ThreatLevel.IMMINENT, priority=1))
    routing.wait_for(escalated, lambda call: call["revision"] == 2)
    overridden = assigned(routing, Route.CO_RESPONSE)
    response = routing.client.post(
        f"/v1/calls/{overridden}/override",
        json={"route": "police", "unit_id": "P-2", "reason": "caller_history"},
        headers=auth("console"),
    )
    assert response.status_code == 200, response.text
    police = assigned(routing, Route.POLICE)  # never eligible: counted nowhere

    found = report(routing)
    assert reasons(found) == {
        ("clinician_only", "no_unit_available"): 1,
        ("co_response", "escalated_by_safety"): 1,
        ("co_response", "dispatcher_override"): 1,
    }
    assert (found["eligible_calls"], found["unserved_calls"], found["served_as_triaged"]) == (3, 3, 0)
    assert {fallback, escalated, overridden, police}  # four distinct calls


@pytest.mark.integration
def test_eligibility_is_the_route_triage_first_decided_not_the_route_in_force(routing: Routing) -> None:
    routing.add_units(
        unit("CL-1", "clinician", PIKE_PLACE),
        unit("CL-2", "clinician", PIKE_PLACE),
        unit("P-1", "police", PIKE_PLACE),
        unit("P-2", "police", PIKE_PLACE),
    )
    police = assigned(routing, Route.POLICE, ThreatLevel.HIGH)
    to_clinician = routing.client.post(
        f"/v1/calls/{police}/override",
        json={"route": "clinician_only", "unit_id": "CL-1", "reason": "caller_history"},
        headers=auth("console"),
    )
    assert to_clinician.status_code == 200, to_clinician.text
    assert (to_clinician.json()["route"], to_clinician.json()["triaged_route"]) == (
        "clinician_only",
        "police",
    )
    eligible = assigned(routing, Route.CLINICIAN_ONLY)
    to_police = routing.client.post(
        f"/v1/calls/{eligible}/override",
        json={"route": "police", "unit_id": "P-2", "reason": "officer_safety"},
        headers=auth("console"),
    )
    assert to_police.status_code == 200, to_police.text

    found = report(routing)
    # The police call a dispatcher gave a clinician team was never eligible, so not "served as triaged";
    # the clinician call sent police instead stays eligible, with its reason.
    assert (found["eligible_calls"], found["served_as_triaged"], found["unserved_calls"]) == (1, 0, 1)
    assert reasons(found) == {("clinician_only", "dispatcher_override"): 1}


@pytest.mark.integration
def test_a_zone_no_one_defined_is_refused_naming_the_field(routing: Routing) -> None:
    response = routing.client.post(
        "/v1/units", json=unit("CL-1", "clinician", PIKE_PLACE) | {"zones": ["nowhere"]}, headers=auth("ops")
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "zones"]
    bad_hours = routing.client.post(
        "/v1/units",
        json=unit("CL-1", "clinician", PIKE_PLACE) | {"service_hours": ["weekdays 9-5"]},
        headers=auth("ops"),
    )
    assert bad_hours.status_code == 422
    assert bad_hours.json()["detail"][0]["loc"][:3] == ["body", "service_hours", 0]


def register(engine: Engine, duty: Duty, unit_id: str, unit_type: UnitType, **fields: Any) -> None:
    change = roster.UnitChange(
        unit_id=unit_id, type=unit_type, name=unit_id, lat=INSIDE[0], lon=INSIDE[1], **fields
    )
    with transaction(engine) as session:
        roster.register_units(session, changes=[change], chains=DEFAULT_FALLBACKS, outbox=OUTBOX, duty=duty)


def arrive(
    engine: Engine, duty: Duty, where: tuple[float, float], route: Route = Route.CLINICIAN_ONLY
) -> str:
    event = CallTriaged(
        call_id=uuid4(),
        decision=decision(route=route),
        location=Location(lat=where[0], lon=where[1]),
        received_at=T0,
        triaged_at=T0,
    )
    with transaction(engine) as session:
        return dispatch.route_call(
            session, event=event, chains=DEFAULT_FALLBACKS, outbox=OUTBOX, duty=duty
        ).call_id


def recorded(engine: Engine) -> list[str]:
    """Every reason recorded for the eligible calls received around T0."""
    with transaction(engine) as session:
        found = unserved.eligible_calls(session, since=T0 - timedelta(days=1), until=T0 + timedelta(days=1))
    return sorted(str(reason) for call in found for reason in call.reasons)


def call_of(engine: Engine, call_id: str) -> RoutedCall:
    with transaction(engine) as session:
        call = session.get(RoutedCall, call_id)
        assert call is not None
        return call


@pytest.mark.db
def test_a_call_outside_the_teams_zone_gets_the_fallback(engine: Engine, tmp_path: Path) -> None:
    path = tmp_path / "zones.geojson"
    path.write_text(json.dumps(ZONE))
    duty = Duty(zones=load_zones(path))
    register(engine, duty, "CL-1", UnitType.CLINICIAN, zones=["pike-market"])
    register(engine, duty, "CR-1", UnitType.CO_RESPONSE)
    outside = arrive(engine, duty, OUTSIDE)
    assert call_of(engine, outside).unit_id == "CR-1"
    inside = arrive(engine, duty, INSIDE)
    assert call_of(engine, inside).unit_id == "CL-1"
    assert recorded(engine) == ["out_of_zone"]


@pytest.mark.db
def test_a_call_queued_too_long_is_recorded_once_and_a_shift_that_begins_takes_it(engine: Engine) -> None:
    duty = Duty(queue_timeout_s=60)
    now = utcnow()
    shift_day = now + timedelta(days=2)  # never today, nor minutes from now
    register(
        engine, duty, "CL-1", UnitType.CLINICIAN, service_hours=[f"{DAYS[shift_day.weekday()]} 00:00-24:00"]
    )
    waiting = arrive(engine, duty, INSIDE)
    assert call_of(engine, waiting).status == "queued"  # the only team is off shift

    def look(at: datetime) -> int:
        with transaction(engine) as session:
            return dispatch.review_queue(session, chains=DEFAULT_FALLBACKS, outbox=OUTBOX, duty=duty, at=at)

    assert look(now) == 0  # not waiting too long yet
    assert look(now + timedelta(minutes=5)) == 1
    assert look(now + timedelta(minutes=6)) == 0  # recorded once, however often the queue is looked at
    assert recorded(engine) == ["queue_timeout"]
    assert call_of(engine, waiting).status == "queued"

    look(shift_day.replace(hour=12))  # the team's shift has begun: the queue goes to it
    assert call_of(engine, waiting).unit_id == "CL-1"


@pytest.mark.db
def test_calls_routed_before_the_triaged_route_was_kept_take_their_first_recorded_route(
    database_url: str,
) -> None:
    config = migration_config(migrations_dir=MIGRATIONS, service="routing")
    engine = make_engine(database_url)
    at = T0.replace(tzinfo=None)
    calls = {
        "never-changed": "co_response",
        "escalated": "police",  # clinician_only, then escalated (an unserved row says so)
        "overridden": "clinician_only",  # police, then a dispatcher's override
        "overridden-then-escalated": "co_response",  # police, overridden, then escalated
    }
    try:
        with engine.begin() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, "0008")
            for call_id, route in calls.items():
                connection.execute(
                    text(
                        "INSERT INTO routing_calls (call_id, route, priority, status, clinician_followup, "
                        "crisis, needs_review, ems_required, needs_interpreter, fallback_used, received_at, "
                        "routed_at, updated_at, version, revision, staging) VALUES (:id, :route, 2, "
                        "'assigned', false, false, false, false, false, false, :at, :at, :at, 0, 1, false)"
                    ),
                    {"id": call_id, "route": route, "at": at},
                )
            for call_id, route, minute in [
                ("escalated", "clinician_only", 1),
                ("overridden-then-escalated", "clinician_only", 3),
            ]:
                connection.execute(
                    text(
                        "INSERT INTO routing_unserved (call_id, route, reason, recorded_at) "
                        "VALUES (:id, :route, 'escalated_by_safety', :at)"
                    ),
                    {"id": call_id, "route": route, "at": at + timedelta(minutes=minute)},
                )
            for call_id in ("overridden", "overridden-then-escalated"):
                connection.execute(
                    text(
                        "INSERT INTO routing_overrides (call_id, overridden_at, by, reason, from_route, "
                        "to_route) VALUES (:id, :at, 'console', 'other', 'police', 'clinician_only')"
                    ),
                    {"id": call_id, "at": at + timedelta(minutes=2)},
                )
            command.upgrade(config, "head")
            found: dict[str, str] = dict(
                connection.execute(text("SELECT call_id, triaged_route FROM routing_calls")).all()
            )
            assert found == {
                "never-changed": "co_response",
                "escalated": "clinician_only",
                "overridden": "police",
                "overridden-then-escalated": "police",
            }
            command.downgrade(config, "0008")
            columns = {c["name"] for c in inspect(connection).get_columns("routing_calls")}
            assert not columns & {"triaged_route", "overridden_route", "overridden_threat_level"}
    finally:
        engine.dispose()
