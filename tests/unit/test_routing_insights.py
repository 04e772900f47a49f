"""Outcome figures per route and the repeat-location outreach list, from plain records."""

from datetime import timedelta
from typing import Any

import pytest
from dispatch_shared.events import CallStatus, Disposition, OverrideReason, Route
from routing.insights import (
    CallChanges,
    CallOutcome,
    CrisisCall,
    DispatcherOverride,
    repeat_locations,
    route_changes,
    summarize_outcomes,
)
from routing.schemas import OutcomeReport

from tests.factories import T0, later


def resolved(
    route: Route, disposition: Disposition, *, assign: int, scene: int, resolve: int, force: bool = False
) -> CallOutcome:
    return CallOutcome(
        route=route,
        status=CallStatus.RESOLVED,
        received_at=T0,
        assigned_at=later(assign),
        on_scene_at=later(scene),
        resolved_at=later(resolve),
        disposition=disposition,
        use_of_force=force,
    )


def test_rates_and_medians_per_route() -> None:
    calls = [
        resolved(Route.CLINICIAN_ONLY, Disposition.REFERRED_TO_SERVICES, assign=1, scene=10, resolve=40),
        resolved(Route.CLINICIAN_ONLY, Disposition.TRANSPORTED_VOLUNTARY, assign=3, scene=14, resolve=60),
        resolved(Route.CLINICIAN_ONLY, Disposition.RESOLVED_ON_SCENE, assign=2, scene=12, resolve=50),
        resolved(Route.CLINICIAN_ONLY, Disposition.REFUSED_SERVICES, assign=4, scene=16, resolve=30),
        CallOutcome(
            route=Route.CLINICIAN_ONLY, status=CallStatus.CANCELLED, received_at=T0, assigned_at=later(5)
        ),
        CallOutcome(route=Route.CLINICIAN_ONLY, status=CallStatus.QUEUED, received_at=T0, fallback_used=True),
        resolved(Route.POLICE, Disposition.ARREST, assign=1, scene=5, resolve=45, force=True),
        resolved(Route.POLICE, Disposition.REPORT_TAKEN, assign=2, scene=7, resolve=25),
    ]
    report = summarize_outcomes(calls)

    clinician = report[Route.CLINICIAN_ONLY]
    assert (clinician.calls, clinician.resolved, clinician.cancelled, clinician.open) == (6, 4, 1, 1)
    assert clinician.fallback_used == 1
    assert clinician.dispositions[Disposition.REFERRED_TO_SERVICES] == 1
    assert clinician.dispositions[Disposition.ARREST] == 0
    assert sum(clinician.dispositions.values()) == 4
    assert clinician.arrest_rate == 0
    assert clinician.use_of_force_rate == 0
    assert clinician.referral_rate == 0.5  # referred + transported voluntarily, of 4 resolved
    assert clinician.median_minutes_to_assign == 3  # 1, 2, 3, 4, 5 (the cancelled call was assigned too)
    assert clinician.median_minutes_to_scene == 13  # 10, 12, 14, 16
    assert clinician.median_minutes_to_resolve == 45  # resolved calls only: 30, 40, 50, 60

    police = report[Route.POLICE]
    assert (police.arrest_rate, police.use_of_force_rate, police.referral_rate) == (0.5, 0.5, 0)
    assert police.median_minutes_to_resolve == 35


def test_routes_without_calls_are_listed_with_no_rates() -> None:
    report = summarize_outcomes([])
    assert set(report) == set(Route)
    empty = report[Route.CO_RESPONSE]
    assert empty.calls == 0 and empty.arrest_rate is None and empty.median_minutes_to_assign is None


def changed(route: Route, **changes: Any) -> CallOutcome:
    return CallOutcome(
        route=route, status=CallStatus.ON_SCENE, received_at=T0, changes=CallChanges(**changes)
    )


def overridden(now: Route, *steps: tuple[OverrideReason, Route, Route]) -> CallOutcome:
    return changed(now, overrides=tuple(DispatcherOverride(*step) for step in steps))


def test_backup_requests_count_calls_with_an_added_or_awaited_backup_under_the_route_now() -> None:
    calls = [
        changed(Route.CLINICIAN_ONLY, units_added_as_backup=2),  # two backups, one call
        changed(Route.CLINICIAN_ONLY, backup_awaited=True),
        changed(Route.CLINICIAN_ONLY, units_added_by_escalation=1),  # an escalation is not backup
        changed(Route.CLINICIAN_ONLY),
        changed(Route.CO_RESPONSE),
        changed(Route.POLICE, units_added_as_backup=1, backup_awaited=True),
    ]
    report = summarize_outcomes(calls)

    clinician, co_response, police = (
        report[r] for r in (Route.CLINICIAN_ONLY, Route.CO_RESPONSE, Route.POLICE)
    )
    assert (clinician.backup_requests, clinician.backup_requests_per_100_calls) == (2, 50.0)
    assert (co_response.backup_requests, co_response.backup_requests_per_100_calls) == (0, 0.0)
    assert (police.backup_requests, police.backup_requests_per_100_calls) == (1, 100.0)
    assert summarize_outcomes([])[Route.POLICE].backup_requests_per_100_calls is None


def test_re_triage_escalations_count_each_trace_an_escalation_leaves_once_per_call() -> None:
    calls = [
        changed(Route.CO_RESPONSE, units_added_by_escalation=1),
        changed(Route.CO_RESPONSE, escalation_awaited=True),  # no unit free yet
        changed(Route.POLICE, escalation_recorded=True),  # moved off co_response, a police unit already there
        changed(Route.POLICE, staging=True),
        changed(Route.POLICE, units_added_by_escalation=2, escalation_recorded=True, staging=True),
        changed(Route.POLICE, units_added_as_backup=1, backup_awaited=True),  # backup is not escalation
        changed(Route.CLINICIAN_ONLY),
    ]
    report = summarize_outcomes(calls)

    assert report[Route.CO_RESPONSE].re_triage_escalations == 2
    assert report[Route.POLICE].re_triage_escalations == 3
    assert report[Route.CLINICIAN_ONLY].re_triage_escalations == 0


def test_overrides_are_counted_under_the_system_route_by_first_reason_and_final_route() -> None:
    judgment, history, safety = (
        OverrideReason.DISPATCHER_JUDGMENT,
        OverrideReason.CALLER_HISTORY,
        OverrideReason.OFFICER_SAFETY,
    )
    calls = [
        # Now police, but the system sent co_response: counted under co_response.
        overridden(Route.POLICE, (history, Route.CO_RESPONSE, Route.POLICE)),
        overridden(Route.POLICE, (safety, Route.CO_RESPONSE, Route.POLICE)),
        # Overridden twice: the first override names the system route and the reason, the last the end.
        overridden(
            Route.CLINICIAN_ONLY,
            (judgment, Route.CO_RESPONSE, Route.POLICE),
            (OverrideReason.CLINICIAN_REQUEST, Route.POLICE, Route.CLINICIAN_ONLY),
        ),
        overridden(Route.CLINICIAN_ONLY, (judgment, Route.CLINICIAN_ONLY, Route.CLINICIAN_ONLY)),  # unit only
        changed(Route.CO_RESPONSE),
    ]
    report = summarize_outcomes(calls)

    co_response = report[Route.CO_RESPONSE]
    assert co_response.overrides == 3
    assert co_response.overrides_by_reason == {reason: 0 for reason in OverrideReason} | {
        history: 1,
        safety: 1,
        judgment: 1,
    }
    assert co_response.overrides_by_final_route == {
        Route.CLINICIAN_ONLY: 1,
        Route.CO_RESPONSE: 0,
        Route.POLICE: 2,
    }
    assert report[Route.POLICE].overrides == 0  # where the calls ended up is not where they were overridden
    assert report[Route.POLICE].calls == 2  # the other figures stay with the route now
    assert report[Route.CLINICIAN_ONLY].overrides == 1

    changes = [(c.system_route, c.final_route, c.calls) for c in route_changes(report)]
    assert changes == [
        (Route.CO_RESPONSE, Route.POLICE, 2),
        (Route.CLINICIAN_ONLY, Route.CLINICIAN_ONLY, 1),
        (Route.CO_RESPONSE, Route.CLINICIAN_ONLY, 1),
    ]


def test_the_report_lists_route_changes_at_the_top_level() -> None:
    routes = summarize_outcomes(
        [overridden(Route.POLICE, (OverrideReason.OTHER, Route.CLINICIAN_ONLY, Route.POLICE))] * 3
    )
    body = OutcomeReport(since=T0, until=later(60), routes=routes).model_dump(mode="json")

    assert body["overrides_by_route_change"] == [
        {"system_route": "clinician_only", "final_route": "police", "calls": 3}
    ]
    assert body["routes"]["clinician_only"]["overrides_by_reason"]["other"] == 3
    assert (
        OutcomeReport(since=T0, until=later(60), routes=summarize_outcomes([])).overrides_by_route_change
        == []
    )


def crisis(
    lat: float | None = None,
    lon: float | None = None,
    address: str | None = None,
    minutes: int = 0,
    route: Route = Route.CLINICIAN_ONLY,
) -> CrisisCall:
    return CrisisCall(
        route=route, received_at=T0 + timedelta(minutes=minutes), lat=lat, lon=lon, address=address
    )


def test_repeat_locations_group_nearby_coordinates_and_addresses() -> None:
    calls = [
        crisis(47.60971, -122.34221, minutes=0),
        crisis(47.60968, -122.34218, minutes=30, route=Route.CO_RESPONSE),  # same block
        crisis(47.60972, -122.34219, minutes=60, address="1st Ave & Pike St"),
        crisis(47.6687, -122.3847, minutes=5),  # Ballard, once
        crisis(address="  300 Pine St ", minutes=1),
        crisis(address="300 pine st", minutes=2),
        crisis(minutes=3),  # nowhere to go back to
    ]
    places = repeat_locations(calls, min_calls=2)

    assert [(p.place, p.calls) for p in places] == [("47.610,-122.342", 3), ("300 pine st", 2)]
    pike = places[0]
    assert (pike.lat, pike.lon) == pytest.approx((47.61, -122.342))
    assert pike.address == "1st Ave & Pike St"
    assert pike.routes == {Route.CLINICIAN_ONLY: 2, Route.CO_RESPONSE: 1}
    assert (pike.first_call_at, pike.last_call_at) == (T0, T0 + timedelta(minutes=60))
    assert places[1].lat is None and places[1].address == "300 pine st"
    assert repeat_locations(calls, min_calls=3) == [pike]


def test_coordinates_on_the_equator_or_meridian_are_kept() -> None:
    places = repeat_locations([crisis(0.0, 0.0), crisis(0.0001, 0.0)], min_calls=2)
    assert [(p.lat, p.lon) for p in places] == [(0.0, 0.0)]
