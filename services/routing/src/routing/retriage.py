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
    "Retriage",
    "RetriageAction",
    "decide_retriage",
]

ROUTE_RANK = {Route.CLINICIAN_ONLY: 0, Route.CO_RESPONSE: 1, Route.POLICE: 2}
"""How much response a route sends: a higher rank adds what a lower one lacks."""

THREAT_RANK = {ThreatLevel.NONE: 0, ThreatLevel.ELEVATED: 1, ThreatLevel.HIGH: 2, ThreatLevel.IMMINENT: 3}


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


@dataclass(frozen=True)
class Retriage:
    """The action, and for an escalation the route a unit must be added for and whether to stage."""

    action: RetriageAction
    add_unit_for: Route | None = None
    """Add the nearest available unit of this route's fallback chain; None: nothing to add."""
    staging: bool = False
    """A clinician team on the call is to stage (threat imminent)."""
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
    if current.status is CallStatus.QUEUED or not current.unit_types:
        return Retriage(RetriageAction.REQUEUE, why="no unit yet: routed as a fresh call")
    route_change = ROUTE_RANK[route] - ROUTE_RANK[current.route]
    threat_rose = THREAT_RANK[threat_level] > THREAT_RANK[current.threat_level]
    if route_change < 0:
        return Retriage(RetriageAction.SUGGEST, why=f"{route.value} asks for less than {current.route.value}")
    if route_change == 0 and not threat_rose:
        return Retriage(RetriageAction.RECORD, why="the response in force still fits")
    covered = any(unit_type in chains[route] for unit_type in current.unit_types)
    staging = threat_level is ThreatLevel.IMMINENT and UnitType.CLINICIAN in current.unit_types
    return Retriage(
        RetriageAction.ESCALATE,
        add_unit_for=None if covered else route,
        staging=staging,
        why=f"{current.route.value} to {route.value}, threat "
        f"{current.threat_level.value} to {threat_level.value}",
    )
