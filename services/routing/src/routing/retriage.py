"""What a new triage revision of a known call changes: plain functions, no I/O.

Calls change after the first sentence: a welfare check turns out to involve a knife. Triage then
decides again and sends the call with a higher ``revision``; routing compares it with the
response in force and picks one action:

* ``ignore``: the revision is not newer than the one applied (a redelivery or a late, out of
  order decision), or the call is closed;
* ``requeue``: the call waits in the queue with no unit: it takes the new route and priority and
  is assigned like a fresh call;
* ``escalate``: the new route needs a response the current one lacks (clinician_only, then
  co_response, then police), or the threat level rose on a call with a unit. It happens at once:
  a unit of the new route's chain is added unless one on the call already serves it, the units
  on the call stay, and the call keeps the more severe threat and priority of the two. When the
  threat is imminent, a clinician team on the call stages (holds back at a safe distance until
  police have made the scene safe);
* ``suggest``: the new route asks for less than the response in force. Units are never taken off
  a call silently: the lesser route is stored as a suggestion for the dispatcher;
* ``record``: the same response still fits; only the revision and triage's reading are kept.

A dispatcher's override holds. The override sets the route the dispatcher chose and remembers the
reading it set aside (``CallState.overridden``: the route and threat level in force before it).
A later revision, which still reads the old text beside the new, moves the call past the override
only when it reads *more* severe than that: a route that sends more, or a higher threat level. A
revision that reads no more than the dispatcher already overruled changes no units and no route:
it is recorded, and a route other than the one in force becomes ``suggested_route`` for a
dispatcher to accept. A queued call under an override re-queues with its new priority but keeps
the dispatcher's route.

``unneeded_units`` is the reverse of an escalation: which units an escalation added that the route
in force no longer needs.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from dispatch_shared.events import CallStatus, Route, ThreatLevel, UnitType

from routing.assignment import FallbackChains
from routing.lifecycle import CLOSED

__all__ = [
    "ROUTE_RANK",
    "THREAT_RANK",
    "CallState",
    "Reading",
    "Retriage",
    "RetriageAction",
    "decide_retriage",
    "unneeded_units",
]

ROUTE_RANK = {Route.CLINICIAN_ONLY: 0, Route.CO_RESPONSE: 1, Route.POLICE: 2}
"""How much response a route sends: a higher rank adds what a lower one lacks."""

THREAT_RANK = {ThreatLevel.NONE: 0, ThreatLevel.ELEVATED: 1, ThreatLevel.HIGH: 2, ThreatLevel.IMMINENT: 3}


@dataclass(frozen=True)
class Reading:
    """How severe a reading of the call is: the route it asks for and the threat level."""

    route: Route
    threat_level: ThreatLevel

    def exceeds(self, other: Reading) -> bool:
        """True when this reading asks for more than ``other``: a higher route or a higher threat."""
        return (
            ROUTE_RANK[self.route] > ROUTE_RANK[other.route]
            or THREAT_RANK[self.threat_level] > THREAT_RANK[other.threat_level]
        )

    def most_severe(self, other: Reading | None) -> Reading:
        """The higher route and the higher threat level of the two readings (self when ``other`` is None)."""
        if other is None:
            return self
        return Reading(
            max(self.route, other.route, key=ROUTE_RANK.__getitem__),
            max(self.threat_level, other.threat_level, key=THREAT_RANK.__getitem__),
        )


class RetriageAction(StrEnum):
    """What routing does with a new revision (see the module docstring)."""

    IGNORE = "ignore"
    REQUEUE = "requeue"
    ESCALATE = "escalate"
    SUGGEST = "suggest"
    RECORD = "record"


@dataclass(frozen=True)
class CallState:
    """A routed call as the decision needs it: the response in force and the units on the call."""

    route: Route
    threat_level: ThreatLevel
    revision: int
    status: CallStatus
    unit_types: Sequence[UnitType] = ()
    """Types of the units on the call now, primary first; empty while it is queued."""
    overridden: Reading | None = None
    """The most severe reading the dispatcher overrides in force set aside; None: no override holds."""


@dataclass(frozen=True)
class Retriage:
    """The action, and for an escalation the route a unit must be added for and whether to stage."""

    action: RetriageAction
    add_unit_for: Route | None = None
    """Add the nearest available unit of this route's fallback chain; None: nothing to add."""
    staging: bool = False
    """A clinician team on the call is to stage (threat imminent)."""
    suggested_route: Route | None = None
    """For ``suggest``, and ``requeue`` under an override: the route a dispatcher is asked to accept."""
    held: bool = False
    """A dispatcher's override keeps the route in force (the revision reads no more than it overruled)."""
    why: str = ""


def decide_retriage(
    current: CallState,
    *,
    route: Route,
    threat_level: ThreatLevel,
    revision: int,
    chains: FallbackChains,
) -> Retriage:
    """Decide what triage's ``revision`` (its new ``route`` and ``threat_level``) does to ``current``."""
    if revision <= current.revision:
        return Retriage(
            RetriageAction.IGNORE, why=f"revision {revision} is not newer than {current.revision}"
        )
    if current.status in CLOSED:
        return Retriage(RetriageAction.IGNORE, why=f"the call is {current.status.value}")
    overruled = current.overridden
    held = overruled is not None and not Reading(route, threat_level).exceeds(overruled)
    hold_why = (
        f"a dispatcher's override holds: {route.value}, threat {threat_level.value} is no more than the "
        f"{overruled.route.value}, threat {overruled.threat_level.value} it overruled"
        if overruled is not None
        else ""
    )
    if current.status is CallStatus.QUEUED or not current.unit_types:
        if held:
            return Retriage(
                RetriageAction.REQUEUE,
                held=True,
                suggested_route=route if route != current.route else None,
                why=f"no unit yet: re-queued on the dispatcher's route; {hold_why}",
            )
        return Retriage(RetriageAction.REQUEUE, why="no unit yet: routed as a fresh call")
    route_change = ROUTE_RANK[route] - ROUTE_RANK[current.route]
    threat_rose = THREAT_RANK[threat_level] > THREAT_RANK[current.threat_level]
    if route_change < 0:
        return Retriage(
            RetriageAction.SUGGEST,
            suggested_route=route,
            why=f"{route.value} asks for less than {current.route.value}",
        )
    if route_change == 0 and not threat_rose:
        return Retriage(RetriageAction.RECORD, why="the response in force still fits")
    if held:
        if route_change == 0:
            return Retriage(RetriageAction.RECORD, held=True, why=hold_why)
        return Retriage(RetriageAction.SUGGEST, suggested_route=route, held=True, why=hold_why)
    covered = any(unit_type in chains[route] for unit_type in current.unit_types)
    staging = threat_level is ThreatLevel.IMMINENT and UnitType.CLINICIAN in current.unit_types
    return Retriage(
        RetriageAction.ESCALATE,
        add_unit_for=None if covered else route,
        staging=staging,
        why=f"{current.route.value} to {route.value}, threat "
        f"{current.threat_level.value} to {threat_level.value}",
    )


def unneeded_units(
    route: Route, primary: UnitType | None, added: Sequence[tuple[str, UnitType]], chains: FallbackChains
) -> list[str]:
    """Ids of the escalation-added units ``route`` does not need, given the call's primary type.

    ``added``: (unit id, type) of the units escalations added and that are still on the call, in the
    order they were sent (backup the field asked for is not passed: the field, not the route, needs
    it). As an escalation adds a unit only when none on the call serves its route, a route needs an
    added unit only when its type is in the route's chain and no unit before it (the primary first)
    already serves the route. Returns the others' ids, in order.
    """
    served = primary is not None and primary in chains[route]
    unneeded = []
    for unit_id, unit_type in added:
        if not served and unit_type in chains[route]:
            served = True
            continue
        unneeded.append(unit_id)
    return unneeded
