"""Calls eligible for a clinician team that did not get the response triage chose, and why.

An auditor's question: of the calls triage sent to a clinician-only or co-response team, which
were served some other way? New York City's comptroller found 35% of calls eligible for B-HEARD
got no team, with the reasons untracked. routing records a reason the moment it happens:

* ``no_unit_available``: a unit further down the fallback chain went, because no unit of the
  route's first type was free;
* ``out_of_service_hours`` / ``out_of_zone``: units of the first type were free but off shift, or
  the call was outside their zones (see ``routing.coverage``);
* ``queue_timeout``: the call waited in the queue longer than ``UNSERVED_QUEUE_SECONDS``;
* ``escalated_by_safety``: a later triage revision escalated it (a weapon, violence);
* ``dispatcher_override``: a dispatcher changed its route or sent another type of unit.

A call has at most one row per reason. Eligible calls are those received in the window whose
route as triage first decided it (``routing_calls.triaged_route``) is clinician_only or
co_response, whatever a later revision or a dispatcher made of it: a police call a dispatcher
sent to a clinician team was never eligible, and an eligible call escalated or overridden away
stays eligible (and unserved, with its reason).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from dispatch_shared.events import Route
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from routing.coverage import OffDuty
from routing.models import RoutedCall, UnservedCall

__all__ = [
    "ELIGIBLE_ROUTES",
    "UnservedReason",
    "UnservedReport",
    "eligible_calls",
    "fallback_reason",
    "record_unserved",
    "summarize_unserved",
]

ELIGIBLE_ROUTES = frozenset({Route.CLINICIAN_ONLY, Route.CO_RESPONSE})
"""Routes whose first unit type includes a clinician."""


class UnservedReason(StrEnum):
    """Why an eligible call was not served as triaged."""

    NO_UNIT_AVAILABLE = "no_unit_available"
    QUEUE_TIMEOUT = "queue_timeout"
    ESCALATED_BY_SAFETY = "escalated_by_safety"
    OUT_OF_SERVICE_HOURS = "out_of_service_hours"
    OUT_OF_ZONE = "out_of_zone"
    DISPATCHER_OVERRIDE = "dispatcher_override"


def fallback_reason(off_duty: Iterable[OffDuty]) -> UnservedReason:
    """Why a fallback unit went: given why each free unit of the first type was passed over.

    Off shift wins over out of zone (a unit on shift elsewhere is a staffing choice; no unit on
    shift at all is the program's hours); no such unit at all means none was free.
    """
    reasons = set(off_duty)
    if OffDuty.OUT_OF_SERVICE_HOURS in reasons:
        return UnservedReason.OUT_OF_SERVICE_HOURS
    if OffDuty.OUT_OF_ZONE in reasons:
        return UnservedReason.OUT_OF_ZONE
    return UnservedReason.NO_UNIT_AVAILABLE


def record_unserved(
    session: Session, *, call_id: str, route: Route, reason: UnservedReason, at: datetime
) -> bool:
    """Record that an eligible call was not served as triaged; False when already recorded.

    Calls on routes that are not eligible are ignored (False).
    """
    if route not in ELIGIBLE_ROUTES:
        return False
    seen = session.exec(
        select(UnservedCall.id).where(
            col(UnservedCall.call_id) == call_id, col(UnservedCall.reason) == reason
        )
    ).first()
    if seen is not None:
        return False
    try:
        with session.begin_nested():
            session.add(UnservedCall(call_id=call_id, route=route, reason=reason, recorded_at=at))
    except IntegrityError:  # another instance recorded it first
        return False
    return True


@dataclass(frozen=True)
class EligibleCall:
    """One eligible call in the window: its route as triage first decided and the reasons recorded."""

    route: Route
    reasons: frozenset[UnservedReason]


class UnservedCount(BaseModel):
    """Eligible calls of one route with one reason."""

    route: Route = Field(description="The route triage chose (before any escalation or override).")
    reason: UnservedReason = Field(description="Why those calls were not served as triaged.")
    calls: int = Field(description="How many calls.")


class UnservedReport(BaseModel):
    """Eligible calls received in [since, until) and those not served as triaged, by route and reason."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-02-01T00:00:00Z",
                    "until": "2026-03-01T00:00:00Z",
                    "eligible_calls": 200,
                    "served_as_triaged": 184,
                    "served_as_triaged_share": 0.92,
                    "unserved_calls": 16,
                    "by_route_and_reason": [
                        {"route": "clinician_only", "reason": "no_unit_available", "calls": 9},
                        {"route": "co_response", "reason": "out_of_service_hours", "calls": 7},
                    ],
                }
            ]
        }
    )

    since: datetime = Field(description="Start of the window (received time), inclusive.")
    until: datetime = Field(description="End of the window, exclusive.")
    eligible_calls: int = Field(description="Calls whose triaged route was clinician_only or co_response.")
    served_as_triaged: int = Field(description="Eligible calls with no reason recorded.")
    served_as_triaged_share: float | None = Field(
        description="served_as_triaged / eligible_calls; null without calls."
    )
    unserved_calls: int = Field(
        description="Eligible calls with at least one reason (a call may have several)."
    )
    by_route_and_reason: list[UnservedCount] = Field(description="Most calls first.")


def summarize_unserved(calls: Iterable[EligibleCall], *, since: datetime, until: datetime) -> UnservedReport:
    """Count eligible calls and their reasons; a call with two reasons counts under each."""
    calls = list(calls)
    counts = Counter((call.route, reason) for call in calls for reason in call.reasons)
    unserved = sum(bool(call.reasons) for call in calls)
    served = len(calls) - unserved
    return UnservedReport(
        since=since,
        until=until,
        eligible_calls=len(calls),
        served_as_triaged=served,
        served_as_triaged_share=round(served / len(calls), 4) if calls else None,
        unserved_calls=unserved,
        by_route_and_reason=[
            UnservedCount(route=route, reason=reason, calls=n)
            for (route, reason), n in sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        ],
    )


def eligible_calls(session: Session, *, since: datetime, until: datetime) -> list[EligibleCall]:
    """Eligible calls received in [since, until), each with its recorded reasons.

    Eligible: triage's first route (``triaged_route``) is in ``ELIGIBLE_ROUTES``; the call's route
    now does not matter. Two queries whatever the number of calls.
    """
    eligible_in_window = (
        col(RoutedCall.received_at) >= since,
        col(RoutedCall.received_at) < until,
        col(RoutedCall.triaged_route).in_(list(ELIGIBLE_ROUTES)),
    )
    reasons: dict[str, set[UnservedReason]] = {}
    rows = session.exec(
        select(UnservedCall.call_id, UnservedCall.reason)
        .join(RoutedCall, col(RoutedCall.call_id) == col(UnservedCall.call_id))
        .where(*eligible_in_window)
    )
    for call_id, reason in rows:
        reasons.setdefault(call_id, set()).add(UnservedReason(reason))
    calls = session.exec(select(RoutedCall.call_id, RoutedCall.triaged_route).where(*eligible_in_window))
    return [EligibleCall(Route(route), frozenset(reasons.get(call_id, ()))) for call_id, route in calls]
