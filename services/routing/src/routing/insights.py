"""Outcome evidence from closed calls: what each route led to, how fast, and where crises repeat.

Plain functions over plain records, so the arithmetic is tested without a database. Rates are
shares of *resolved* calls (cancelled calls had no outcome); times are minutes from when the
call was received, so they include any time spent in the queue.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from dispatch_shared.events import CallStatus, Disposition, Route
from pydantic import BaseModel, Field

__all__ = [
    "CallOutcome",
    "CrisisCall",
    "RepeatLocation",
    "RouteOutcomes",
    "repeat_locations",
    "summarize_outcomes",
]

REFERRAL_DISPOSITIONS = frozenset({Disposition.REFERRED_TO_SERVICES, Disposition.TRANSPORTED_VOLUNTARY})
"""Dispositions that connected the person to care by their own choice."""

COORDINATE_DECIMALS = 3
"""Rounding for repeat locations: 0.001 degree is about 110 m north-south, one block or so."""


@dataclass(frozen=True)
class CallOutcome:
    """What insights need of one call."""

    route: Route
    status: CallStatus
    received_at: datetime
    assigned_at: datetime | None = None
    on_scene_at: datetime | None = None
    resolved_at: datetime | None = None
    disposition: Disposition | None = None
    use_of_force: bool | None = None
    fallback_used: bool = False


class RouteOutcomes(BaseModel):
    """Outcomes of the calls triage sent down one route."""

    calls: int = Field(description="Calls received in the window.")
    resolved: int
    cancelled: int
    open: int
    fallback_used: int = Field(description="Calls served by a unit further down the fallback chain.")
    dispositions: dict[Disposition, int]
    arrest_rate: float | None = Field(description="Share of resolved calls ending in arrest.")
    use_of_force_rate: float | None = Field(description="Share of resolved calls where force was used.")
    referral_rate: float | None = Field(
        description="Share of resolved calls referred to services or transported voluntarily."
    )
    median_minutes_to_assign: float | None
    median_minutes_to_scene: float | None
    median_minutes_to_resolve: float | None


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() / 60


def _median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 2) if present else None


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _route_outcomes(calls: list[CallOutcome]) -> RouteOutcomes:
    resolved = [call for call in calls if call.status is CallStatus.RESOLVED]
    dispositions = Counter(call.disposition for call in resolved if call.disposition is not None)
    return RouteOutcomes(
        calls=len(calls),
        resolved=len(resolved),
        cancelled=sum(call.status is CallStatus.CANCELLED for call in calls),
        open=sum(call.status not in (CallStatus.RESOLVED, CallStatus.CANCELLED) for call in calls),
        fallback_used=sum(call.fallback_used for call in calls),
        dispositions={disposition: dispositions[disposition] for disposition in Disposition},
        arrest_rate=_rate(dispositions[Disposition.ARREST], len(resolved)),
        use_of_force_rate=_rate(sum(call.use_of_force is True for call in resolved), len(resolved)),
        referral_rate=_rate(sum(dispositions[d] for d in REFERRAL_DISPOSITIONS), len(resolved)),
        median_minutes_to_assign=_median(_minutes(c.received_at, c.assigned_at) for c in calls),
        median_minutes_to_scene=_median(_minutes(c.received_at, c.on_scene_at) for c in calls),
        median_minutes_to_resolve=_median(_minutes(c.received_at, c.resolved_at) for c in resolved),
    )


def summarize_outcomes(calls: Iterable[CallOutcome]) -> dict[Route, RouteOutcomes]:
    """Per route (every route, even without calls): counts, rates and median times."""
    by_route: dict[Route, list[CallOutcome]] = {route: [] for route in Route}
    for call in calls:
        by_route[call.route].append(call)
    return {route: _route_outcomes(route_calls) for route, route_calls in by_route.items()}


@dataclass(frozen=True)
class CrisisCall:
    """A call triage flagged as a behavioral-health crisis, and where it was."""

    route: Route
    received_at: datetime
    lat: float | None = None
    lon: float | None = None
    address: str | None = None


class RepeatLocation(BaseModel):
    """A place with repeated crisis calls: a candidate for outreach and prevention."""

    place: str = Field(description="Rounded 'lat,lon', or the normalised address when no coordinates.")
    lat: float | None
    lon: float | None
    address: str | None = Field(description="An address reported for the place, if any.")
    calls: int
    first_call_at: datetime
    last_call_at: datetime
    routes: dict[Route, int]


def _place_key(call: CrisisCall) -> str | None:
    if call.lat is not None and call.lon is not None:
        return f"{round(call.lat, COORDINATE_DECIMALS):.3f},{round(call.lon, COORDINATE_DECIMALS):.3f}"
    if call.address and call.address.strip():
        return " ".join(call.address.lower().split())
    return None  # nowhere to go back to


def repeat_locations(calls: Iterable[CrisisCall], *, min_calls: int) -> list[RepeatLocation]:
    """Places with at least ``min_calls`` crisis calls, most calls first."""
    places: dict[str, list[CrisisCall]] = {}
    for call in calls:
        key = _place_key(call)
        if key is not None:
            places.setdefault(key, []).append(call)
    found = []
    for key, place_calls in places.items():
        if len(place_calls) < min_calls:
            continue
        first = place_calls[0]
        located = first.lat is not None and first.lon is not None
        address = next((c.address for c in reversed(place_calls) if c.address), None)
        found.append(
            RepeatLocation(
                place=key,
                lat=round(first.lat, COORDINATE_DECIMALS) if located and first.lat is not None else None,
                lon=round(first.lon, COORDINATE_DECIMALS) if located and first.lon is not None else None,
                address=address,
                calls=len(place_calls),
                first_call_at=min(c.received_at for c in place_calls),
                last_call_at=max(c.received_at for c in place_calls),
                routes=dict(Counter(c.route for c in place_calls)),
            )
        )
    return sorted(found, key=lambda place: (-place.calls, -place.last_call_at.timestamp(), place.place))
