"""Assignment, queue and lifecycle on a real database, including racing instances and updates."""

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from datetime import timedelta
from functools import partial
from typing import Any
from uuid import UUID, uuid4

import pytest
from dispatch_shared.db import make_engine, migrate, transaction
from dispatch_shared.events import (
    CallStatus,
    CallTriaged,
    Disposition,
    Location,
    Route,
    ThreatLevel,
    UnitStatus,
    UnitType,
)
from dispatch_shared.outbox import Outbox
from routing import calls, dispatch, roster
from routing.app import MIGRATIONS
from routing.assignment import DEFAULT_FALLBACKS
from routing.lifecycle import TransitionNotAllowed
from routing.models import CallUnit, RoutedCall, RoutingOutbox, RoutingUnit
from sqlalchemy.engine import Engine
from sqlmodel import col, select

from tests.factories import T0, decision

pytestmark = pytest.mark.db

OUTBOX = Outbox(RoutingOutbox, source="/dispatch/routing")
CHAINS = DEFAULT_FALLBACKS
PIKE_PLACE = (47.6097, -122.3422)
CAPITOL_HILL = (47.6253, -122.3222)
BALLARD = (47.6687, -122.3847)


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    engine = make_engine(database_url)
    migrate(engine, migrations_dir=MIGRATIONS, service="routing")
    yield engine
    engine.dispose()


def register(
    engine: Engine, unit_id: str, unit_type: UnitType, at: tuple[float, float] | None = None, **fields: Any
) -> None:
    lat, lon = at if at else (None, None)
    change = roster.UnitChange(
        unit_id=unit_id, type=unit_type, name=f"Unit {unit_id}", lat=lat, lon=lon, **fields
    )
    with transaction(engine) as session:
        roster.register_units(session, changes=[change], chains=CHAINS, outbox=OUTBOX)


def arrive(
    engine: Engine,
    route: Route = Route.CLINICIAN_ONLY,
    *,
    priority: int = 3,
    at: tuple[float, float] | None = PIKE_PLACE,
    minutes: int = 0,
    **decided: Any,
) -> str:
    """A triaged call reaches routing; returns its id."""
    call_id = uuid4()
    event = CallTriaged(
        call_id=call_id,
        decision=decision(route=route, priority=priority, **decided),
        location=Location(lat=at[0], lon=at[1]) if at else None,
        received_at=T0 + timedelta(minutes=minutes),
        triaged_at=T0 + timedelta(minutes=minutes),
    )
    with transaction(engine) as session:
        dispatch.route_call(session, event=event, chains=CHAINS, outbox=OUTBOX)
    return str(call_id)


def revise(engine: Engine, call_id: str, revision: int, route: Route, **decided: Any) -> RoutedCall:
    """Triage decided again on a known call (its ``revision``)."""
    event = CallTriaged(
        call_id=UUID(call_id),
        decision=decision(route=route, **decided),
        location=Location(lat=PIKE_PLACE[0], lon=PIKE_PLACE[1]),
        received_at=T0,
        triaged_at=T0,
        revision=revision,
    )
    with transaction(engine) as session:
        return dispatch.route_call(session, event=event, chains=CHAINS, outbox=OUTBOX)


def report(engine: Engine, call_id: str, status: CallStatus, **fields: Any) -> RoutedCall:
    with transaction(engine) as session:
        return calls.report_status(
            session,
            call_id=call_id,
            report=calls.StatusReport(status=status, **fields),
            chains=CHAINS,
            outbox=OUTBOX,
        )


def call(engine: Engine, call_id: str) -> RoutedCall:
    with transaction(engine) as session:
        return calls.get_call(session, call_id)


def unit(engine: Engine, unit_id: str) -> RoutingUnit:
    with transaction(engine) as session:
        return roster.get_unit(session, unit_id)


def events(engine: Engine) -> list[tuple[str, dict[str, Any]]]:
    """Staged events in order, as (short type, payload)."""
    with transaction(engine) as session:
        rows = session.exec(select(RoutingOutbox).order_by(col(RoutingOutbox.id))).all()
        return [
            (row.ce_type.split(".")[-3] + "." + row.ce_type.split(".")[-2], json.loads(row.payload))
            for row in rows
        ]


def test_a_call_gets_the_nearest_unit_of_its_route_and_both_are_published(engine: Engine) -> None:
    register(engine, "CL-BALLARD", UnitType.CLINICIAN, BALLARD)
    register(engine, "CL-HILL", UnitType.CLINICIAN, CAPITOL_HILL)
    register(engine, "P-PIKE", UnitType.POLICE, PIKE_PLACE)
    call_id = arrive(engine, Route.CLINICIAN_ONLY, at=PIKE_PLACE)

    routed = call(engine, call_id)
    assert (routed.status, routed.unit_id, routed.fallback_used) == (CallStatus.ASSIGNED, "CL-HILL", False)
    assert routed.distance_km == pytest.approx(2.2, abs=0.2)
    assert unit(engine, "CL-HILL").status == UnitStatus.DISPATCHED
    assert unit(engine, "CL-HILL").current_call_id == call_id

    staged = events(engine)
    assert [kind for kind, _ in staged[-2:]] == ["call.routed", "unit.status"]
    routed_event, unit_event = staged[-2][1], staged[-1][1]
    assert routed_event["status"] == "assigned" and routed_event["unit"]["unit_id"] == "CL-HILL"
    assert routed_event["fallback_used"] is False and routed_event["distance_km"] == routed.distance_km
    assert (unit_event["unit_id"], unit_event["status"], unit_event["call_id"]) == (
        "CL-HILL",
        "dispatched",
        call_id,
    )


def test_the_fallback_chain_is_followed_and_marked(engine: Engine) -> None:
    register(engine, "P-1", UnitType.POLICE, BALLARD)
    call_id = arrive(engine, Route.CO_RESPONSE)

    routed = call(engine, call_id)
    assert (routed.unit_id, routed.fallback_used, routed.clinician_followup) == ("P-1", True, True)
    routed_event = [p for kind, p in events(engine) if kind == "call.routed"][-1]
    assert (routed_event["fallback_used"], routed_event["clinician_followup"]) == (True, True)


def test_a_call_no_unit_can_serve_is_queued(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN, BALLARD)
    call_id = arrive(engine, Route.POLICE)

    assert call(engine, call_id).status == CallStatus.QUEUED
    assert unit(engine, "CL-1").status == UnitStatus.AVAILABLE
    routed_event = [p for kind, p in events(engine) if kind == "call.routed"][-1]
    assert routed_event["status"] == "queued" and routed_event["unit"] is None


def test_a_freed_unit_takes_the_most_urgent_oldest_call_it_can_serve(engine: Engine) -> None:
    police = arrive(engine, Route.POLICE, priority=1, minutes=0)
    old_p3 = arrive(engine, Route.CLINICIAN_ONLY, priority=3, minutes=1)
    new_p2 = arrive(engine, Route.CLINICIAN_ONLY, priority=2, minutes=3)
    old_p2 = arrive(engine, Route.CO_RESPONSE, priority=2, minutes=2)

    register(engine, "CR-1", UnitType.CO_RESPONSE, BALLARD)  # a new unit takes from the queue
    assert call(engine, old_p2).unit_id == "CR-1"
    assert call(engine, old_p2).assigned_at is not None

    for step in (CallStatus.EN_ROUTE, CallStatus.ON_SCENE):
        report(engine, old_p2, step)
    report(engine, old_p2, CallStatus.RESOLVED, disposition=Disposition.RESOLVED_ON_SCENE)

    # CR-1 is free again and serves clinician_only as a fallback; the police call is not its to take.
    taken = call(engine, new_p2)
    assert (taken.unit_id, taken.fallback_used) == ("CR-1", True)
    assert call(engine, old_p3).status == call(engine, police).status == CallStatus.QUEUED
    cr1 = unit(engine, "CR-1")
    assert (cr1.status, cr1.current_call_id) == (UnitStatus.DISPATCHED, new_p2)
    assert (cr1.lat, cr1.lon) == PIKE_PLACE  # it moved to the scene of the call it resolved

    kinds = [
        kind for kind, payload in events(engine) if payload.get("unit_id") == "CR-1" or payload.get("unit")
    ]
    assert "unit.status" in kinds
    unit_statuses = [
        p["status"] for kind, p in events(engine) if kind == "unit.status" and p["unit_id"] == "CR-1"
    ]
    assert unit_statuses == ["available", "dispatched", "en_route", "on_scene", "available", "dispatched"]


def test_lifecycle_steps_are_published_with_the_unit_and_outcome(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN, BALLARD)
    call_id = arrive(engine)
    report(engine, call_id, CallStatus.EN_ROUTE)
    report(engine, call_id, CallStatus.ON_SCENE)
    closed = report(
        engine,
        call_id,
        CallStatus.RESOLVED,
        disposition=Disposition.REFERRED_TO_SERVICES,
        use_of_force=False,
        notes="connected to the mobile crisis team",
    )

    assert (closed.status, closed.disposition, closed.use_of_force) == (
        "resolved",
        "referred_to_services",
        False,
    )
    assigned, en_route, on_scene, resolved = (
        closed.assigned_at,
        closed.en_route_at,
        closed.on_scene_at,
        closed.resolved_at,
    )
    assert assigned and en_route and on_scene and resolved
    assert assigned <= en_route <= on_scene <= resolved
    statuses = [(p["status"], p["unit_id"]) for kind, p in events(engine) if kind == "call.status"]
    assert statuses == [("en_route", "CL-1"), ("on_scene", "CL-1"), ("resolved", "CL-1")]
    resolved_event = [p for kind, p in events(engine) if kind == "call.status"][-1]
    assert resolved_event["disposition"] == "referred_to_services" and resolved_event["use_of_force"] is False
    assert (
        unit(engine, "CL-1").status == UnitStatus.AVAILABLE and unit(engine, "CL-1").current_call_id is None
    )


def test_cancelling_a_queued_call_touches_no_unit(engine: Engine) -> None:
    call_id = arrive(engine, Route.POLICE)
    report(engine, call_id, CallStatus.CANCELLED, disposition=Disposition.UNFOUNDED)
    assert call(engine, call_id).status == CallStatus.CANCELLED
    register(engine, "P-1", UnitType.POLICE)
    assert unit(engine, "P-1").status == UnitStatus.AVAILABLE  # nothing left in the queue for it


def test_bad_steps_and_unknown_calls_are_refused(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    call_id = arrive(engine)
    with pytest.raises(TransitionNotAllowed) as raised:
        report(engine, call_id, CallStatus.RESOLVED, disposition=Disposition.ARREST)
    assert raised.value.allowed == [CallStatus.EN_ROUTE, CallStatus.ON_SCENE, CallStatus.CANCELLED]
    assert call(engine, call_id).status == CallStatus.ASSIGNED  # nothing changed
    with pytest.raises(calls.UnknownCall):
        report(engine, str(uuid4()), CallStatus.EN_ROUTE)


def test_a_redelivered_triaged_event_is_routed_once(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    register(engine, "CL-2", UnitType.CLINICIAN)
    event = CallTriaged(call_id=uuid4(), decision=decision(), received_at=T0, triaged_at=T0)
    for _ in range(2):
        with transaction(engine) as session:
            dispatch.route_call(session, event=event, chains=CHAINS, outbox=OUTBOX)
    assert sum(kind == "call.routed" for kind, _ in events(engine)) == 1
    assert (
        unit(engine, "CL-2").status == UnitStatus.AVAILABLE
        or unit(engine, "CL-1").status == UnitStatus.AVAILABLE
    )


def test_units_on_a_call_keep_their_status_and_type(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    arrive(engine)
    with pytest.raises(roster.UnitBusy):
        with transaction(engine) as session:
            roster.set_unit_status(
                session, unit_id="CL-1", status=UnitStatus.OUT_OF_SERVICE, chains=CHAINS, outbox=OUTBOX
            )
    with pytest.raises(roster.UnitBusy):
        register(engine, "CL-1", UnitType.POLICE)
    register(engine, "CL-1", UnitType.CLINICIAN, BALLARD)  # a new name or place is fine
    assert (unit(engine, "CL-1").status, unit(engine, "CL-1").lat) == (UnitStatus.DISPATCHED, BALLARD[0])
    with pytest.raises(roster.UnknownUnit):
        with transaction(engine) as session:
            roster.set_unit_status(
                session, unit_id="NOPE", status=UnitStatus.AVAILABLE, chains=CHAINS, outbox=OUTBOX
            )


def test_out_of_service_units_are_not_sent_and_return_to_take_the_queue(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN, status=UnitStatus.OUT_OF_SERVICE)
    call_id = arrive(engine)
    assert call(engine, call_id).status == CallStatus.QUEUED
    with transaction(engine) as session:
        roster.set_unit_status(
            session, unit_id="CL-1", status=UnitStatus.AVAILABLE, chains=CHAINS, outbox=OUTBOX
        )
    assert call(engine, call_id).unit_id == "CL-1"


def test_an_unchanged_registration_publishes_nothing(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN, BALLARD)
    before = len(events(engine))
    register(engine, "CL-1", UnitType.CLINICIAN, BALLARD)
    assert len(events(engine)) == before


# --- concurrency -------------------------------------------------------------------------------


def race(workers: Sequence[Callable[[], Any]]) -> list[Any]:
    """Run the workers in threads released at the same moment; returns results or exceptions."""
    barrier = threading.Barrier(len(workers))
    results: list[Any] = [None] * len(workers)

    def run(index: int, work: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results[index] = work()
        except Exception as exc:  # noqa: BLE001 - the test inspects what each worker met
            results[index] = exc

    threads = [threading.Thread(target=run, args=(i, w)) for i, w in enumerate(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    return results


def assert_roster_consistent(engine: Engine) -> None:
    """No unit on two calls, every open call's units (primary and added) point back at it."""
    with transaction(engine) as session:
        units = {u.unit_id: u for u in session.exec(select(RoutingUnit))}
        open_calls = session.exec(
            select(RoutedCall).where(col(RoutedCall.status).in_(["assigned", "en_route", "on_scene"]))
        ).all()
        added = session.exec(select(CallUnit).where(col(CallUnit.released_at).is_(None))).all()
    on_calls = [(c.unit_id, c.call_id) for c in open_calls] + [(a.unit_id, a.call_id) for a in added]
    holders = Counter(unit_id for unit_id, _ in on_calls)
    assert all(count == 1 for count in holders.values()), holders
    for unit_id, call_id in on_calls:
        assert unit_id is not None, call_id
        assert units[unit_id].current_call_id == call_id
    for u in units.values():
        if u.current_call_id is not None:
            assert holders[u.unit_id] == 1
        else:
            assert u.status in ("available", "out_of_service")


def test_two_instances_racing_never_assign_a_unit_twice(database_url: str, engine: Engine) -> None:
    for n in range(3):
        register(engine, f"CL-{n}", UnitType.CLINICIAN, BALLARD)
    instances = [make_engine(database_url), make_engine(database_url)]  # two routing processes
    try:
        workers = [partial(arrive, instances[i % 2], minutes=i) for i in range(10)]
        call_ids = race(workers)
        assert all(isinstance(c, str) for c in call_ids), call_ids
    finally:
        for instance in instances:
            instance.dispose()

    statuses = Counter(call(engine, c).status for c in call_ids)
    assert statuses == {CallStatus.ASSIGNED: 3, CallStatus.QUEUED: 7}
    assert_roster_consistent(engine)
    routed = [p for kind, p in events(engine) if kind == "call.routed"]
    assert len(routed) == 10 and Counter(p["unit"]["unit_id"] for p in routed if p["unit"]) == {
        "CL-0": 1,
        "CL-1": 1,
        "CL-2": 1,
    }


def test_freed_units_racing_for_the_queue_take_one_call_each(database_url: str, engine: Engine) -> None:
    for n in range(4):
        register(engine, f"CL-{n}", UnitType.CLINICIAN)
    first = [arrive(engine, minutes=n) for n in range(4)]
    waiting = [arrive(engine, minutes=10 + n) for n in range(6)]
    for call_id in first:
        report(engine, call_id, CallStatus.ON_SCENE)
    instances = [make_engine(database_url), make_engine(database_url)]
    try:
        results = race(
            [
                partial(report, instances[i % 2], c, CallStatus.RESOLVED, disposition=Disposition.NO_REPORT)
                for i, c in enumerate(first)
            ]
        )
    finally:
        for instance in instances:
            instance.dispose()
    assert not [r for r in results if isinstance(r, Exception)], results

    # The four oldest waiting calls went, one per unit, and the youngest two still wait.
    assert [call(engine, c).status for c in waiting] == ["assigned"] * 4 + ["queued"] * 2
    assert len({call(engine, c).unit_id for c in waiting[:4]}) == 4
    assert_roster_consistent(engine)


def test_concurrent_reports_on_one_call_apply_one_at_a_time(database_url: str, engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    call_id = arrive(engine)
    instances = [make_engine(database_url) for _ in range(2)]
    try:
        results = race([partial(report, instances[i % 2], call_id, CallStatus.EN_ROUTE) for i in range(6)])
        applied = [r for r in results if isinstance(r, RoutedCall)]
        refused = [r for r in results if isinstance(r, TransitionNotAllowed)]
        assert (len(applied), len(refused)) == (1, 5), results

        # Now mixed steps: arriving and cancelling race; exactly one of them wins.
        results = race(
            [
                partial(report, instances[i % 2], call_id, s)
                for i, s in enumerate([CallStatus.ON_SCENE, CallStatus.CANCELLED] * 3)
            ]
        )
    finally:
        for instance in instances:
            instance.dispose()
    applied = [r for r in results if isinstance(r, RoutedCall)]
    assert len(applied) == 1, results
    assert all(isinstance(r, (RoutedCall, TransitionNotAllowed)) for r in results), results

    final = call(engine, call_id)
    steps = [p["status"] for kind, p in events(engine) if kind == "call.status"]
    assert steps == ["en_route", final.status]
    expected_unit = UnitStatus.ON_SCENE if final.status == CallStatus.ON_SCENE else UnitStatus.AVAILABLE
    assert unit(engine, "CL-1").status == expected_unit
    assert_roster_consistent(engine)


def test_concurrent_roster_changes_and_arrivals_keep_a_unit_on_one_call(
    database_url: str, engine: Engine
) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    instance = make_engine(database_url)

    def toggle(status: UnitStatus) -> Callable[[], Any]:
        def work() -> Any:
            with transaction(instance) as session:
                return roster.set_unit_status(
                    session, unit_id="CL-1", status=status, chains=CHAINS, outbox=OUTBOX
                )

        return work

    try:
        workers: list[Callable[[], Any]] = []
        for n in range(4):
            workers += [
                toggle(UnitStatus.OUT_OF_SERVICE),
                toggle(UnitStatus.AVAILABLE),
                partial(arrive, engine, minutes=n),
            ]
        results = race(workers)
    finally:
        instance.dispose()
    assert all(isinstance(r, (RoutingUnit, str, roster.UnitBusy)) for r in results), results

    assert_roster_consistent(engine)
    arrivals = [r for r in results if isinstance(r, str)]
    assigned = [c for c in arrivals if call(engine, c).status == CallStatus.ASSIGNED]
    assert len(assigned) <= 1
    cl1 = unit(engine, "CL-1")
    if cl1.status == UnitStatus.AVAILABLE:  # an idle unit never sits beside a call it could take
        assert all(call(engine, c).status != CallStatus.QUEUED for c in arrivals)


def test_every_event_names_a_real_call_or_unit(engine: Engine) -> None:
    register(engine, "CL-1", UnitType.CLINICIAN)
    call_id = arrive(engine)
    for kind, payload in events(engine):
        if kind.startswith("call."):
            assert UUID(payload["call_id"]) == UUID(call_id)
        else:
            assert payload["unit_id"] == "CL-1"


def test_escalations_and_arrivals_racing_never_send_a_unit_twice(database_url: str, engine: Engine) -> None:
    for n in range(4):
        register(engine, f"CL-{n}", UnitType.CLINICIAN, CAPITOL_HILL)
    register(engine, "P-0", UnitType.POLICE, BALLARD)
    register(engine, "P-1", UnitType.POLICE, BALLARD)
    clinician_calls = [arrive(engine, minutes=n) for n in range(4)]
    instances = [make_engine(database_url), make_engine(database_url)]
    try:
        workers: list[Callable[[], Any]] = [
            partial(
                revise, instances[i % 2], c, 2, Route.POLICE, threat_level=ThreatLevel.IMMINENT, priority=1
            )
            for i, c in enumerate(clinician_calls)
        ]
        workers += [
            partial(arrive, instances[i % 2], Route.POLICE, priority=2, minutes=10 + i, crisis=False)
            for i in range(3)
        ]
        results = race(workers)
        assert not [r for r in results if isinstance(r, Exception)], results
    finally:
        for instance in instances:
            instance.dispose()

    assert_roster_consistent(engine)
    police_calls = [r for r in results if isinstance(r, str)]
    escalated = [call(engine, c) for c in clinician_calls]
    assert all(c.route == Route.POLICE and c.revision == 2 and c.staging for c in escalated)
    assert all(c.unit_id and c.unit_id.startswith("CL-") for c in escalated)  # the clinicians stay
    # Two police units, seven calls that want one: each went once; every other escalation waits for one.
    with transaction(engine) as session:
        added = {a.unit_id: a.call_id for a in session.exec(select(CallUnit))}
    primaries = {c.unit_id: c.call_id for c in (call(engine, i) for i in police_calls) if c.unit_id}
    assert sorted([*added, *primaries]) == ["P-0", "P-1"]
    assert all((c.awaiting_route is None) == (c.call_id in added.values()) for c in escalated)
    assert sum(c.awaiting_route == Route.POLICE for c in escalated) >= 2

    # P-0's call ends: P-0 goes to an escalation still waiting (priority 1) before the queue (priority 2).
    report(engine, (added | primaries)["P-0"], CallStatus.CANCELLED)
    now_on = unit(engine, "P-0").current_call_id
    assert now_on in clinician_calls and now_on not in added.values()
    assert call(engine, now_on).awaiting_route is None
    assert_roster_consistent(engine)


def test_an_escalation_never_makes_a_call_less_urgent_and_is_published_without_a_new_unit(
    engine: Engine,
) -> None:
    register(engine, "CO-1", UnitType.CO_RESPONSE)
    call_id = arrive(engine, Route.CLINICIAN_ONLY, priority=2)  # served by the co-response team (fallback)
    escalated = revise(engine, call_id, 2, Route.CO_RESPONSE, threat_level=ThreatLevel.ELEVATED, priority=3)

    assert (escalated.route, escalated.threat_level, escalated.priority) == ("co_response", "elevated", 2)
    assert escalated.unit_id == "CO-1" and escalated.awaiting_route is None
    routed = [p for kind, p in events(engine) if kind == "call.routed"]
    assert [(p["reason"], p["revision"], p["unit"]) for p in routed][1:] == [("re_triaged", 2, None)]
    with transaction(engine) as session:
        assert session.exec(select(CallUnit)).all() == []
