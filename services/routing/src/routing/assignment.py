"""Which unit goes to a call, and which queued call a freed unit takes: plain functions, no I/O.

A route names the kind of response; the fallback chain says which unit types may serve it, in
order of preference. A unit of an earlier type always wins over a nearer unit of a later type,
because the chain encodes policy (send a clinician, not the nearest officer). Within a type the
nearest unit wins, by great-circle distance; without coordinates, the unit idle longest. A unit
off shift or outside its zones (``routing.coverage``) is passed over, whatever its status.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from dispatch_shared.events import Route, UnitType

from routing.coverage import ALWAYS, Coverage, Duty, OffDuty

__all__ = [
    "DEFAULT_FALLBACKS",
    "AvailableUnit",
    "Candidate",
    "FallbackChains",
    "QueuedCall",
    "haversine_km",
    "passed_over",
    "rank_queue",
    "rank_units",
    "serves",
    "terms_of_service",
    "validate_chains",
]

EARTH_RADIUS_KM = 6371.0088  # mean radius (IUGG)

FallbackChains = Mapping[Route, tuple[UnitType, ...]]

DEFAULT_FALLBACKS: dict[Route, tuple[UnitType, ...]] = {
    Route.CLINICIAN_ONLY: (UnitType.CLINICIAN, UnitType.CO_RESPONSE),
    Route.CO_RESPONSE: (UnitType.CO_RESPONSE, UnitType.POLICE),
    Route.POLICE: (UnitType.POLICE,),
}


def validate_chains(chains: Mapping[Route, Iterable[UnitType]]) -> dict[Route, tuple[UnitType, ...]]:
    """Check a configured chain: every route has at least one unit type, none repeated."""
    checked: dict[Route, tuple[UnitType, ...]] = {}
    for route in Route:
        types = tuple(chains.get(route, ()))
        if not types:
            raise ValueError(f"fallback chain for {route.value} needs at least one unit type")
        if len(set(types)) != len(types):
            raise ValueError(f"fallback chain for {route.value} repeats a unit type")
        checked[route] = types
    return checked


def haversine_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Great-circle distance between two WGS84 points, in kilometres."""
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    dphi = phi2 - phi1
    dlambda = math.radians(lon2 - lon1)
    a = math.sin(dphi / 2) ** 2 + math.cos(phi1) * math.cos(phi2) * math.sin(dlambda / 2) ** 2
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


@dataclass(frozen=True)
class AvailableUnit:
    """A unit free to take a call."""

    unit_id: str
    type: UnitType
    lat: float | None
    lon: float | None
    available_since: datetime
    coverage: Coverage = ALWAYS


@dataclass(frozen=True)
class QueuedCall:
    """A call waiting for a unit (or just arrived)."""

    call_id: str
    route: Route
    priority: int
    received_at: datetime
    lat: float | None = None
    lon: float | None = None
    clinician_followup: bool = False


@dataclass(frozen=True)
class Candidate:
    """A unit that can serve a call, and on what terms."""

    unit: AvailableUnit
    distance_km: float | None
    fallback_used: bool
    clinician_followup: bool


def serves(unit_type: UnitType, route: Route, chains: FallbackChains) -> bool:
    """Whether a unit of ``unit_type`` may be sent on ``route`` at all."""
    return unit_type in chains[route]


def _distance(call: QueuedCall, unit: AvailableUnit) -> float | None:
    if call.lat is None or call.lon is None or unit.lat is None or unit.lon is None:
        return None
    return haversine_km(call.lat, call.lon, unit.lat, unit.lon)


def terms_of_service(call: QueuedCall, unit: AvailableUnit, chains: FallbackChains) -> Candidate:
    """The terms on which ``unit`` serves ``call``: distance, fallback, clinician follow-up."""
    fallback_used = unit.type != chains[call.route][0]
    # An officer standing in for a team with a clinician: a clinician follows up afterwards.
    followup = call.clinician_followup or (unit.type is UnitType.POLICE and call.route is not Route.POLICE)
    return Candidate(
        unit=unit, distance_km=_distance(call, unit), fallback_used=fallback_used, clinician_followup=followup
    )


def _on_duty(unit: AvailableUnit, call: QueuedCall, duty: Duty | None, at: datetime | None) -> bool:
    if duty is None or at is None:
        return True
    return duty.excludes(unit.coverage, at=at, lat=call.lat, lon=call.lon) is None


def rank_units(
    *,
    call: QueuedCall,
    units: Iterable[AvailableUnit],
    chains: FallbackChains,
    duty: Duty | None = None,
    at: datetime | None = None,
) -> list[Candidate]:
    """Units that may serve ``call``, best first: chain order, then nearest, then idle longest.

    With ``duty`` and ``at``: only units on shift at ``at`` whose zones hold the call.
    """
    order = {unit_type: position for position, unit_type in enumerate(chains[call.route])}
    candidates = [
        terms_of_service(call, unit, chains)
        for unit in units
        if unit.type in order and _on_duty(unit, call, duty, at)
    ]

    def preference(candidate: Candidate) -> tuple[int, bool, float, datetime, str]:
        unit = candidate.unit
        unknown = candidate.distance_km is None
        # Units with a known distance come before units without one; those wait by idle time.
        return (order[unit.type], unknown, candidate.distance_km or 0.0, unit.available_since, unit.unit_id)

    return sorted(candidates, key=preference)


def passed_over(
    *, call: QueuedCall, units: Iterable[AvailableUnit], unit_type: UnitType, duty: Duty, at: datetime
) -> list[OffDuty]:
    """Why each free unit of ``unit_type`` could not take ``call`` at ``at`` (none: none was free)."""
    reasons = (
        duty.excludes(unit.coverage, at=at, lat=call.lat, lon=call.lon)
        for unit in units
        if unit.type is unit_type
    )
    return [reason for reason in reasons if reason is not None]


def rank_queue(
    *,
    unit: AvailableUnit,
    queued: Iterable[QueuedCall],
    chains: FallbackChains,
    duty: Duty | None = None,
    at: datetime | None = None,
) -> list[QueuedCall]:
    """Queued calls ``unit`` may serve, in the order it should take them: most urgent, then oldest.

    With ``duty`` and ``at``: none while the unit is off shift, and only calls inside its zones.
    """
    servable = [
        call for call in queued if serves(unit.type, call.route, chains) and _on_duty(unit, call, duty, at)
    ]
    return sorted(servable, key=lambda call: (call.priority, call.received_at, call.call_id))
