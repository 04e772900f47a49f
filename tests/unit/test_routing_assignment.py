"""Choosing units for calls and calls for units: distance, the fallback chain, the queue order."""

from datetime import datetime, timedelta

import pytest
from dispatch_shared.events import Route, UnitType
from routing.app import RoutingSettings
from routing.assignment import (
    DEFAULT_FALLBACKS,
    AvailableUnit,
    QueuedCall,
    haversine_km,
    rank_queue,
    rank_units,
    validate_chains,
)

from tests.factories import T0

SEATTLE = (47.6062, -122.3321)
PORTLAND = (45.5152, -122.6784)
PIKE_PLACE = (47.6097, -122.3422)
CAPITOL_HILL = (47.6253, -122.3222)
BALLARD = (47.6687, -122.3847)


def unit(
    unit_id: str, unit_type: UnitType, at: tuple[float, float] | None, idle_minutes: int = 0
) -> AvailableUnit:
    lat, lon = at if at else (None, None)
    return AvailableUnit(unit_id, unit_type, lat, lon, available_since=T0 - timedelta(minutes=idle_minutes))


def call(
    route: Route,
    at: tuple[float, float] | None = SEATTLE,
    *,
    call_id: str = "c",
    priority: int = 3,
    received_at: datetime = T0,
    clinician_followup: bool = False,
) -> QueuedCall:
    lat, lon = at if at else (None, None)
    return QueuedCall(
        call_id=call_id,
        route=route,
        priority=priority,
        received_at=received_at,
        lat=lat,
        lon=lon,
        clinician_followup=clinician_followup,
    )


def chosen(route: Route, units: list[AvailableUnit], at: tuple[float, float] | None = SEATTLE) -> list[str]:
    return [c.unit.unit_id for c in rank_units(call=call(route, at), units=units, chains=DEFAULT_FALLBACKS)]


def test_haversine_matches_known_distances() -> None:
    assert haversine_km(*SEATTLE, *SEATTLE) == 0
    assert haversine_km(*SEATTLE, *PORTLAND) == pytest.approx(233.5, abs=1.0)
    assert haversine_km(0, 0, 0, 1) == pytest.approx(111.2, abs=0.1)  # one degree on the equator
    assert haversine_km(0, 179.5, 0, -179.5) == pytest.approx(111.2, abs=0.1)  # across the antimeridian
    assert haversine_km(*SEATTLE, *PORTLAND) == pytest.approx(haversine_km(*PORTLAND, *SEATTLE))


def test_the_nearest_unit_of_the_needed_type_goes_first() -> None:
    units = [
        unit("CL-FAR", UnitType.CLINICIAN, BALLARD),
        unit("CL-NEAR", UnitType.CLINICIAN, PIKE_PLACE),
        unit("P-NEAREST", UnitType.POLICE, SEATTLE),  # nearer, but police cannot serve this route
    ]
    assert chosen(Route.CLINICIAN_ONLY, units) == ["CL-NEAR", "CL-FAR"]


def test_chain_order_beats_distance_and_fallbacks_are_marked() -> None:
    units = [unit("CR-NEAR", UnitType.CO_RESPONSE, SEATTLE), unit("CL-FAR", UnitType.CLINICIAN, BALLARD)]
    ranked = rank_units(call=call(Route.CLINICIAN_ONLY), units=units, chains=DEFAULT_FALLBACKS)
    assert [(c.unit.unit_id, c.fallback_used) for c in ranked] == [("CL-FAR", False), ("CR-NEAR", True)]
    assert ranked[0].distance_km == pytest.approx(haversine_km(*SEATTLE, *BALLARD))


def test_police_standing_in_for_co_response_brings_a_clinician_followup() -> None:
    ranked = rank_units(
        call=call(Route.CO_RESPONSE), units=[unit("P-1", UnitType.POLICE, SEATTLE)], chains=DEFAULT_FALLBACKS
    )
    assert [(c.unit.unit_id, c.fallback_used, c.clinician_followup) for c in ranked] == [("P-1", True, True)]


def test_police_route_follow_up_only_when_triage_asked_for_it() -> None:
    units = [unit("P-1", UnitType.POLICE, SEATTLE)]
    plain = rank_units(call=call(Route.POLICE), units=units, chains=DEFAULT_FALLBACKS)[0]
    asked = rank_units(
        call=call(Route.POLICE, clinician_followup=True), units=units, chains=DEFAULT_FALLBACKS
    )[0]
    assert (plain.fallback_used, plain.clinician_followup) == (False, False)
    assert asked.clinician_followup is True


def test_police_calls_never_fall_back_to_clinicians() -> None:
    units = [unit("CL-1", UnitType.CLINICIAN, SEATTLE), unit("CR-1", UnitType.CO_RESPONSE, SEATTLE)]
    assert chosen(Route.POLICE, units) == []


def test_without_a_call_location_the_unit_idle_longest_goes() -> None:
    units = [
        unit("CL-RECENT", UnitType.CLINICIAN, SEATTLE, idle_minutes=5),
        unit("CL-LONGEST", UnitType.CLINICIAN, BALLARD, idle_minutes=50),
        unit("CL-MIDDLE", UnitType.CLINICIAN, None, idle_minutes=20),
    ]
    assert chosen(Route.CLINICIAN_ONLY, units, at=None) == ["CL-LONGEST", "CL-MIDDLE", "CL-RECENT"]


def test_units_without_a_location_come_after_located_ones() -> None:
    units = [
        unit("CL-NOWHERE", UnitType.CLINICIAN, None, idle_minutes=90),
        unit("CL-BALLARD", UnitType.CLINICIAN, BALLARD),
    ]
    ranked = rank_units(call=call(Route.CLINICIAN_ONLY), units=units, chains=DEFAULT_FALLBACKS)
    assert [c.unit.unit_id for c in ranked] == ["CL-BALLARD", "CL-NOWHERE"]
    assert ranked[1].distance_km is None


def test_equal_distance_goes_to_the_unit_idle_longest() -> None:
    units = [unit("CL-B", UnitType.CLINICIAN, PIKE_PLACE, 1), unit("CL-A", UnitType.CLINICIAN, PIKE_PLACE, 9)]
    assert chosen(Route.CLINICIAN_ONLY, units) == ["CL-A", "CL-B"]


def test_a_freed_unit_takes_the_most_urgent_then_oldest_call_it_can_serve() -> None:
    queued = [
        call(Route.CLINICIAN_ONLY, call_id="old-p3", priority=3, received_at=T0),
        call(Route.CO_RESPONSE, call_id="new-p2", priority=2, received_at=T0 + timedelta(minutes=9)),
        call(Route.CO_RESPONSE, call_id="old-p2", priority=2, received_at=T0 + timedelta(minutes=1)),
        call(Route.POLICE, call_id="police-p1", priority=1, received_at=T0),
    ]
    co_response_unit = unit("CR-1", UnitType.CO_RESPONSE, SEATTLE)
    order = rank_queue(unit=co_response_unit, queued=queued, chains=DEFAULT_FALLBACKS)
    assert [c.call_id for c in order] == ["old-p2", "new-p2", "old-p3"]  # never the police call

    police_unit = unit("P-1", UnitType.POLICE, SEATTLE)
    order = rank_queue(unit=police_unit, queued=queued, chains=DEFAULT_FALLBACKS)
    assert [c.call_id for c in order] == ["police-p1", "old-p2", "new-p2"]  # co_response falls back to police


def test_chains_must_cover_every_route_without_repeats() -> None:
    assert validate_chains(DEFAULT_FALLBACKS) == DEFAULT_FALLBACKS
    with pytest.raises(ValueError, match="police needs at least one unit type"):
        validate_chains(
            {Route.CLINICIAN_ONLY: [UnitType.CLINICIAN], Route.CO_RESPONSE: [UnitType.CO_RESPONSE]}
        )
    with pytest.raises(ValueError, match="repeats"):
        validate_chains(DEFAULT_FALLBACKS | {Route.POLICE: [UnitType.POLICE, UnitType.POLICE]})


def test_the_chain_is_configurable_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "ROUTING_FALLBACKS",
        '{"clinician_only": ["clinician"], "co_response": ["co_response", "clinician"],'
        ' "police": ["police"]}',
    )
    chains = RoutingSettings().fallbacks
    assert chains[Route.CLINICIAN_ONLY] == (UnitType.CLINICIAN,)
    assert chains[Route.CO_RESPONSE] == (UnitType.CO_RESPONSE, UnitType.CLINICIAN)


def test_a_configured_chain_missing_a_route_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROUTING_FALLBACKS", '{"police": ["police"]}')
    with pytest.raises(ValueError, match="clinician_only needs at least one unit type"):
        RoutingSettings()
    assert RoutingSettings.model_fields["fallbacks"].default == DEFAULT_FALLBACKS
