"""Outcome evidence from closed calls: what each route led to, how fast, and where crises repeat.

Plain functions over plain records, so the arithmetic is tested without a database. Rates are
shares of *resolved* calls (cancelled calls had no outcome); times are minutes from when the
call was received, so they include any time spent in the queue.

What changed a call after triage first routed it is counted too: backup the field asked for,
escalations by a later triage revision, and dispatchers' overrides. Overrides are counted under
the *system's* route (the route the call had when a dispatcher first overrode it), so a route
whose decisions dispatchers often overrule shows it; everything else is counted under the route
the call has now.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime

from dispatch_shared.events import CallStatus, Disposition, OverrideReason, Route
from pydantic import BaseModel, Field

__all__ = [
    "CallChanges",
    "CallOutcome",
    "CrisisCall",
    "DispatcherOverride",
    "RepeatLocation",
    "RouteChange",
    "RouteOutcomes",
    "backup_requested",
    "re_triage_escalated",
    "repeat_locations",
    "route_changes",
    "summarize_outcomes",
]

REFERRAL_DISPOSITIONS = frozenset({Disposition.REFERRED_TO_SERVICES, Disposition.TRANSPORTED_VOLUNTARY})
"""Dispositions that connected the person to care by their own choice."""

COORDINATE_DECIMALS = 3
"""Rounding for repeat locations: 0.001 degree is about 110 m north-south, one block or so."""


@dataclass(frozen=True)
class DispatcherOverride:
    """One dispatcher's override of a call (a ``routing_overrides`` row): why, and the route change."""

    reason: OverrideReason
    from_route: Route
    to_route: Route


@dataclass(frozen=True)
class CallChanges:
    """What changed a call after triage first routed it, as routing's tables record it.

    Sources: ``routing_call_units`` (units added), ``routing_calls`` (``awaiting_route``,
    ``awaiting_backup``, ``staging``), ``routing_unserved`` (``escalated_by_safety``) and
    ``routing_overrides``.
    """

    units_added_by_escalation: int = 0
    """Units a later triage revision added (``backup_reason`` NULL), including ones it waited for."""
    escalation_awaited: bool = False
    """An escalation is waiting for a free unit now (``awaiting_route`` with no ``awaiting_backup``)."""
    escalation_recorded: bool = False
    """A revision escalated a clinician_only or co_response call off its route, or staged its team
    (recorded as unserved, ``escalated_by_safety``), whether or not a unit was added."""
    staging: bool = False
    """A clinician team on the call stages for police: set only by an escalation."""
    units_added_as_backup: int = 0
    """Units the field asked for as backup (``backup_reason`` set)."""
    backup_awaited: bool = False
    """A backup request no unit has filled: still awaited, or awaited until the call closed."""
    overrides: tuple[DispatcherOverride, ...] = ()
    """Dispatchers' overrides of the call, oldest first."""


@dataclass(frozen=True)
class CallOutcome:
    """What insights need of one call. ``route``: the route it has now; ``changes``: since triage."""

    route: Route
    status: CallStatus
    received_at: datetime
    assigned_at: datetime | None = None
    on_scene_at: datetime | None = None
    resolved_at: datetime | None = None
    disposition: Disposition | None = None
    use_of_force: bool | None = None
    fallback_used: bool = False
    changes: CallChanges = field(default_factory=CallChanges)


def backup_requested(call: CallOutcome) -> bool:
    """The field asked for backup at least once: a backup unit was added, or one was awaited."""
    return call.changes.units_added_as_backup > 0 or call.changes.backup_awaited


def re_triage_escalated(call: CallOutcome) -> bool:
    """A later triage revision escalated the call, as far as the tables can tell.

    Any of: a unit the escalation added, an escalation still waiting for a unit, a recorded
    escalation off a clinician route, or a team staging. An escalation that only raised the threat
    level on a route the units there already serve (no unit added, same route) leaves no trace in
    routing's tables and is not counted.
    """
    changes = call.changes
    return (
        changes.units_added_by_escalation > 0
        or changes.escalation_awaited
        or changes.escalation_recorded
        or changes.staging
    )


class RouteOutcomes(BaseModel):
    """Outcomes of the calls triage sent down one route."""

    calls: int = Field(description="Calls received in the window.")
    resolved: int = Field(description="Of those, calls resolved.")
    cancelled: int = Field(description="Of those, calls cancelled.")
    open: int = Field(description="Of those, calls still open.")
    fallback_used: int = Field(description="Calls served by a unit further down the fallback chain.")
    dispositions: dict[Disposition, int] = Field(description="Closed calls by disposition.")
    arrest_rate: float | None = Field(description="Share of resolved calls ending in arrest.")
    use_of_force_rate: float | None = Field(description="Share of resolved calls where force was used.")
    referral_rate: float | None = Field(
        description="Share of resolved calls referred to services or transported voluntarily."
    )
    median_minutes_to_assign: float | None = Field(
        description="Median minutes from received to a unit sent; null without any."
    )
    median_minutes_to_scene: float | None = Field(
        description="Median minutes from received to on scene; null without any."
    )
    median_minutes_to_resolve: float | None = Field(
        description="Median minutes from received to resolved; null without any."
    )
    backup_requests: int = Field(
        description="Calls (on this route now) where a unit in the field asked for backup at least "
        "once: a backup unit was added, or one was awaited (still, or until the call closed)."
    )
    backup_requests_per_100_calls: float | None = Field(
        description="backup_requests per 100 calls of the route; null without calls."
    )
    re_triage_escalations: int = Field(
        description="Calls (on this route now) a later triage revision escalated: a unit was added "
        "for it (or is awaited), the call was moved off clinician_only or co_response, or its "
        "clinician team staged. An escalation that only raised the threat level on a route the "
        "units already there serve adds no unit and leaves no record, so it is not counted."
    )
    overrides: int = Field(
        description="Calls a dispatcher overrode, counted under the system's route: the route the "
        "call had when first overridden (its first override's from_route), not the route it has now."
    )
    overrides_by_reason: dict[OverrideReason, int] = Field(
        description="Overridden calls (grouped as overrides) by the reason of their first override, "
        "the one that overruled the system; every reason listed, sums to overrides."
    )
    overrides_by_final_route: dict[Route, int] = Field(
        description="Overridden calls (grouped as overrides) by the route their last override left "
        "them on (its to_route); the same route when overrides only changed the unit or undid "
        "themselves. Every route listed, sums to overrides."
    )


class RouteChange(BaseModel):
    """Overridden calls that went from one system route to one final route."""

    system_route: Route = Field(description="The route the call had when first overridden.")
    final_route: Route = Field(description="The route its last override left it on.")
    calls: int = Field(description="How many calls.")


def _minutes(start: datetime, end: datetime | None) -> float | None:
    return None if end is None else (end - start).total_seconds() / 60


def _median(values: Iterable[float | None]) -> float | None:
    present = [value for value in values if value is not None]
    return round(statistics.median(present), 2) if present else None


def _rate(count: int, total: int) -> float | None:
    return round(count / total, 4) if total else None


def _per_100(count: int, total: int) -> float | None:
    return round(100 * count / total, 2) if total else None


def _route_outcomes(calls: list[CallOutcome], overridden: list[CallOutcome]) -> RouteOutcomes:
    """Figures of ``calls`` (on the route now), with ``overridden``: calls whose system route it was."""
    resolved = [call for call in calls if call.status is CallStatus.RESOLVED]
    first_reasons = Counter(call.changes.overrides[0].reason for call in overridden)
    final_routes = Counter(call.changes.overrides[-1].to_route for call in overridden)
    backups = sum(backup_requested(call) for call in calls)
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
        backup_requests=backups,
        backup_requests_per_100_calls=_per_100(backups, len(calls)),
        re_triage_escalations=sum(re_triage_escalated(call) for call in calls),
        overrides=len(overridden),
        overrides_by_reason={reason: first_reasons[reason] for reason in OverrideReason},
        overrides_by_final_route={route: final_routes[route] for route in Route},
    )


def summarize_outcomes(calls: Iterable[CallOutcome]) -> dict[Route, RouteOutcomes]:
    """Per route (every route, even without calls): counts, rates and median times.

    Calls are grouped by the route they have now, overridden calls once more by the system's
    route (their first override's ``from_route``) for the override figures.
    """
    by_route: dict[Route, list[CallOutcome]] = {route: [] for route in Route}
    by_system_route: dict[Route, list[CallOutcome]] = {route: [] for route in Route}
    for call in calls:
        by_route[call.route].append(call)
        if call.changes.overrides:
            by_system_route[call.changes.overrides[0].from_route].append(call)
    return {route: _route_outcomes(by_route[route], by_system_route[route]) for route in Route}


def route_changes(routes: Mapping[Route, RouteOutcomes]) -> list[RouteChange]:
    """Overridden calls per (system route, final route), most calls first; pairs without calls left out.

    ``routes``: the figures of ``summarize_outcomes``. Ties keep the order of ``Route``.
    """
    changes = [
        RouteChange(system_route=system, final_route=final, calls=count)
        for system, outcomes in routes.items()
        for final, count in outcomes.overrides_by_final_route.items()
        if count
    ]
    order = list(Route)
    return sorted(
        changes,
        key=lambda c: (-c.calls, order.index(c.system_route), order.index(c.final_route)),
    )


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
    lat: float | None = Field(description="Latitude rounded to 3 decimals (about 100 m); null if none.")
    lon: float | None = Field(description="Longitude rounded to 3 decimals; null if none.")
    address: str | None = Field(description="An address reported for the place, if any.")
    calls: int = Field(description="Crisis calls at the place in the window.")
    first_call_at: datetime = Field(description="When the first of them was received.")
    last_call_at: datetime = Field(description="When the last of them was received.")
    routes: dict[Route, int] = Field(description="Those calls by route.")


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
