"""routing's metrics on a real database: receipt to routed and to assigned on every path that gives a
call its first unit, the queue and roster gauges read from the tables, outcomes reported over HTTP."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from typing import Any
from uuid import uuid4

import pytest
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import CallTriaged, OverrideReason, Route, UnitType, utcnow
from dispatch_shared.outbox import Outbox
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from routing import dispatch, roster
from routing.app import MIGRATIONS, RoutingSettings, create_app
from routing.assignment import DEFAULT_FALLBACKS
from routing.coverage import Coverage, Duty
from routing.metrics import ROUTING_STATE, RoutingState, watch_call_timeline
from routing.models import RoutedCall, RoutingOutbox
from sqlalchemy import update
from sqlalchemy.engine import Engine
from sqlmodel import col

from tests.factories import decision
from tests.stack import API_KEYS, auth, runtime_of

# Each test names its tier: db (a database only) or integration (the broker too).

OUTBOX = Outbox(RoutingOutbox, source="/dispatch/routing")
CHAINS = DEFAULT_FALLBACKS
NO_RULES = Duty()  # no roster file: units without hours of their own are always on shift


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    watch_call_timeline()  # what create_app does
    engine = make_engine(database_url)
    migrate(engine, migrations_dir=MIGRATIONS, service="routing")
    yield engine
    engine.dispose()


def sample(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def register(engine: Engine, unit_id: str, unit_type: UnitType, hours: list[str] | None = None) -> None:
    change = roster.UnitChange(unit_id=unit_id, type=unit_type, name=f"Unit {unit_id}", service_hours=hours)
    with transaction(engine) as session:
        roster.register_units(session, changes=[change], chains=CHAINS, outbox=OUTBOX)


def arrive(engine: Engine, route: Route = Route.CLINICIAN_ONLY, *, seconds_ago: float = 0) -> str:
    """A triaged call received ``seconds_ago`` reaches routing; returns its id."""
    received = utcnow() - timedelta(seconds=seconds_ago)
    event = CallTriaged(
        call_id=uuid4(), decision=decision(route=route), received_at=received, triaged_at=received
    )
    with transaction(engine) as session:
        dispatch.route_call(session, event=event, chains=CHAINS, outbox=OUTBOX)
    return str(event.call_id)


class Timeline:
    """The routed and assigned histograms of one route, as differences from when it was made."""

    def __init__(self, route: str) -> None:
        self.route = route
        self.start = self._read()

    def _read(self) -> dict[str, float]:
        values = {}
        for name in ("routed", "assigned"):
            family = f"dispatch_call_{name}_seconds"
            values[name] = sample(f"{family}_count", route=self.route)
            for le in ("45.0", "60.0", "120.0"):
                values[f"{name}<={le}"] = sample(f"{family}_bucket", route=self.route, le=le)
        return values

    def moved(self) -> dict[str, float]:
        now = self._read()
        return {key: now[key] - self.start[key] for key in now if now[key] != self.start[key]}


@pytest.mark.db
def test_a_call_assigned_at_once_is_routed_and_assigned_once(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    timeline = Timeline("clinician_only")
    arrive(engine, seconds_ago=50)
    # 50 s after receipt: within the 60 s standard's bucket, not the 45 s one.
    assert timeline.moved() == {
        "routed": 1,
        "routed<=60.0": 1,
        "routed<=120.0": 1,
        "assigned": 1,
        "assigned<=60.0": 1,
        "assigned<=120.0": 1,
    }


@pytest.mark.db
def test_a_queued_call_is_assigned_when_a_unit_comes(engine: Engine) -> None:
    timeline = Timeline("clinician_only")
    arrive(engine, seconds_ago=100)
    assert timeline.moved() == {"routed": 1, "routed<=120.0": 1}  # queued: routed, no unit yet
    register(engine, "CL-1", UnitType.CLINICIAN)  # a unit comes on and takes the queue
    assert timeline.moved() == {"routed": 1, "routed<=120.0": 1, "assigned": 1, "assigned<=120.0": 1}


@pytest.mark.db
def test_a_dispatcher_moving_the_call_to_another_unit_is_not_a_second_assignment(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    register(engine, "CL-2", UnitType.CLINICIAN)
    call_id = arrive(engine)
    timeline = Timeline("clinician_only")
    with transaction(engine) as session:
        call = session.get(RoutedCall, call_id)
        assert call is not None and call.unit_id is not None
        other = "CL-2" if call.unit_id == "CL-1" else "CL-1"
        override = dispatch.Override(reason=OverrideReason.DISPATCHER_JUDGMENT, unit_id=other)
        dispatch.override_call(session, call_id=call_id, override=override, chains=CHAINS, outbox=OUTBOX)
    assert timeline.moved() == {}


@pytest.mark.db
def test_a_routing_rolled_back_observes_nothing(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    timeline = Timeline("clinician_only")
    event = CallTriaged(call_id=uuid4(), decision=decision(), received_at=utcnow(), triaged_at=utcnow())
    with pytest.raises(RuntimeError), transaction(engine) as session:
        dispatch.route_call(session, event=event, chains=CHAINS, outbox=OUTBOX)
        raise RuntimeError("the transaction fails after routing")
    assert timeline.moved() == {}


@pytest.mark.db
def test_the_collector_reports_the_queue_and_the_roster(engine: Engine) -> None:
    register(engine, "P-1", UnitType.POLICE)
    register(engine, "P-2", UnitType.POLICE)
    arrive(engine, Route.POLICE)  # takes a police unit
    # No clinician or co-response team on the roster: both clinician-only calls wait.
    waiting_longest, _ = arrive(engine, Route.CLINICIAN_ONLY), arrive(engine, Route.CLINICIAN_ONLY)
    with transaction(engine) as session:
        session.exec(
            update(RoutedCall)
            .where(col(RoutedCall.call_id) == waiting_longest)
            .values(routed_at=utcnow() - timedelta(seconds=900))
        )

    ROUTING_STATE.refresh(engine, NO_RULES)

    def value(name: str, **labels: str) -> float | None:
        return REGISTRY.get_sample_value(name, labels)

    assert value("dispatch_calls_queued", route="clinician_only") == 2
    assert value("dispatch_calls_queued", route="police") == 0  # every route has a series
    assert value("dispatch_units", type="police", status="dispatched") == 1
    assert value("dispatch_units", type="police", status="available") == 1
    assert value("dispatch_units", type="clinician", status="available") == 0  # known, none on the roster
    oldest = value("dispatch_queue_oldest_seconds", route="clinician_only")
    assert oldest is not None and 900 <= oldest < 960
    assert value("dispatch_queue_oldest_seconds", route="police") == 0

    register(engine, "CL-1", UnitType.CLINICIAN)  # takes the call that waited longest
    ROUTING_STATE.refresh(engine, NO_RULES)
    assert value("dispatch_calls_queued", route="clinician_only") == 1
    assert value("dispatch_units", type="clinician", status="dispatched") == 1
    after = value("dispatch_queue_oldest_seconds", route="clinician_only")
    assert after is not None and after < 60


@pytest.mark.db
def test_units_free_are_the_available_ones_on_shift_now(engine: Engine) -> None:
    hour = utcnow().hour
    # An hour-long window two hours from now, every day: off shift now, even if the hour turns
    # before the snapshot. "daily 00:00-24:00": always on shift.
    off_shift = f"daily {(hour + 2) % 24:02d}:00-{(hour + 3) % 24:02d}:00"
    always = "daily 00:00-24:00"
    register(engine, "CL-ON", UnitType.CLINICIAN)
    register(engine, "CL-OFF", UnitType.CLINICIAN, [off_shift])
    register(engine, "CO-TYPE", UnitType.CO_RESPONSE)  # its type's hours (the roster file) apply
    register(engine, "CO-OWN", UnitType.CO_RESPONSE, [always])  # its own hours win over its type's
    register(engine, "P-1", UnitType.POLICE)
    arrive(engine, Route.POLICE)  # the one police unit is dispatched
    duty = Duty(by_type={UnitType.CO_RESPONSE: Coverage.of([off_shift], None)})
    state = RoutingState()

    def reported(name: str) -> dict[tuple[str, ...], float]:
        return {
            tuple(sample.labels.values()): sample.value
            for family in state.collect()
            for sample in family.samples
            if sample.name == name
        }

    state.refresh(engine, duty)
    assert reported("dispatch_units_free") == {("clinician",): 1, ("co_response",): 1, ("police",): 0}
    # The roster alone shows every one of them available: the gap the free count closes.
    units = reported("dispatch_units")
    assert units[("clinician", "available")] == 2 and units[("co_response", "available")] == 2

    # Without the roster file's hours for its type, CO-TYPE is free; CL-OFF keeps its own hours.
    state.refresh(engine, NO_RULES)
    assert reported("dispatch_units_free") == {("clinician",): 1, ("co_response",): 2, ("police",): 0}


@pytest.mark.db
def test_the_collector_reports_nothing_it_cannot_read(engine: Engine, tmp_path: Any) -> None:
    state = RoutingState()
    state.refresh(engine, NO_RULES)
    assert [sample.value for family in state.collect() for sample in family.samples]
    broken = make_engine(f"sqlite:///{tmp_path / 'empty.db'}")  # no tables: the read fails
    with pytest.raises(Exception):  # noqa: B017 - whatever the driver raises
        state.refresh(broken, NO_RULES)
    broken.dispose()
    assert [sample for family in state.collect() for sample in family.samples] == []


@pytest.fixture
def client(database_url: str, namespace: str, kafka_bootstrap: str) -> Iterator[TestClient]:
    settings = RoutingSettings(
        database_url=database_url,
        kafka_bootstrap_servers=kafka_bootstrap,
        kafka_namespace=namespace,
        api_keys=API_KEYS,
        state_metrics_seconds=0.2,
    )
    with TestClient(create_app(settings)) as client:
        yield client


@pytest.mark.integration
def test_outcomes_reported_over_http_are_counted(client: TestClient, namespace: str) -> None:
    units = [{"unit_id": f"CO-{n}", "type": "co_response", "name": f"Team {n}"} for n in (1, 2)]
    assert client.post("/v1/units", json=units, headers=auth("ops")).status_code == 200
    runtime = runtime_of(client)
    resolved = {"route": "co_response", "disposition": "referred_to_services"}
    before = {
        "resolved": sample("dispatch_calls_resolved_total", **resolved),
        "force": sample("dispatch_use_of_force_total", route="co_response"),
        "referrals": sample("dispatch_referrals_total", route="co_response"),
        "cancelled": sample("dispatch_calls_resolved_total", route="co_response", disposition="unfounded"),
    }

    def route_one() -> str:
        event = CallTriaged(
            call_id=uuid4(),
            decision=decision(route=Route.CO_RESPONSE, threat_level="elevated"),
            received_at=utcnow(),
            triaged_at=utcnow(),
        )
        with transaction(runtime.engine) as session:
            dispatch.route_call(session, event=event, chains=CHAINS, outbox=runtime.outbox)
        return str(event.call_id)

    def step(call_id: str, status: str, **fields: Any) -> None:
        body = {"status": status, **fields}
        response = client.post(f"/v1/calls/{call_id}/status", json=body, headers=auth("unit"))
        assert response.status_code == 200, response.text

    resolved_call, cancelled_call = route_one(), route_one()
    step(resolved_call, "en_route")
    step(resolved_call, "on_scene")
    assert sample("dispatch_calls_resolved_total", **resolved) == before["resolved"]
    step(resolved_call, "resolved", disposition="referred_to_services", use_of_force=True)
    step(cancelled_call, "cancelled", disposition="unfounded")
    refused = client.post(  # resolving again is refused (409) and counts nothing
        f"/v1/calls/{resolved_call}/status",
        json={"status": "resolved", "disposition": "referred_to_services"},
        headers=auth("unit"),
    )
    assert refused.status_code == 409

    assert sample("dispatch_calls_resolved_total", **resolved) == before["resolved"] + 1
    assert sample("dispatch_use_of_force_total", route="co_response") == before["force"] + 1
    assert sample("dispatch_referrals_total", route="co_response") == before["referrals"] + 1
    unfounded = sample("dispatch_calls_resolved_total", route="co_response", disposition="unfounded")
    assert unfounded == before["cancelled"]  # a cancelled call is not a resolved one

    # The app's own scrape: the state gauges from its database, dead letters declared at 0.
    text = client.get("/metrics").text
    triaged_topic = f"{namespace}dispatch.calls.triaged.v1"
    assert f'dispatch_dead_letters_total{{reason="invalid_body",topic="{triaged_topic}"}} 0.0' in text
    assert 'dispatch_units{status="available",type="co_response"}' in text
