"""Turning routes into dispatched units: assign on arrival, queue when none can serve, drain the queue.

Every function works inside the caller's transaction and stages its events in the outbox there,
so an event exists exactly when its change committed. Two safeguards keep assignments sound when
several routing instances share one database:

* claims are conditional updates (a unit only from ``available``, a call only from ``queued``),
  checked by row count; whoever loses a race moves on to the next candidate;
* decisions that could pair a waiting call with an idle unit first take the dispatch lock row,
  so a call queued here and a unit freed there cannot miss each other.
"""

from __future__ import annotations

import json
from datetime import datetime
from uuid import UUID

from dispatch_shared.events import (
    AssignedUnit,
    CallRouted,
    CallStatus,
    CallTriaged,
    Route,
    UnitStatus,
    UnitStatusChanged,
    UnitType,
    utcnow,
)
from dispatch_shared.outbox import Outbox
from sqlmodel import Session, col, select, update

from routing.assignment import (
    AvailableUnit,
    Candidate,
    FallbackChains,
    QueuedCall,
    rank_queue,
    rank_units,
    terms_of_service,
)
from routing.language import language_code, needs_interpreter
from routing.models import DispatchLock, RoutedCall, RoutingUnit

__all__ = [
    "assign_unit",
    "claim_queued_call",
    "claim_unit",
    "publish_unit",
    "route_call",
    "take_dispatch_lock",
    "take_next_call",
]


class DispatchLockMissing(RuntimeError):
    """The dispatch lock row is gone: the database was not migrated by routing."""


def take_dispatch_lock(session: Session) -> None:
    """Serialize dispatch decisions across instances until this transaction ends."""
    result = session.exec(
        update(DispatchLock).where(col(DispatchLock.id) == 1).values(decisions=DispatchLock.decisions + 1)
    )
    if result.rowcount != 1:
        raise DispatchLockMissing("routing_dispatch_lock has no row 1; run routing's migrations")


def publish_unit(session: Session, *, unit: RoutingUnit, outbox: Outbox, at: datetime) -> None:
    """Stage ``UnitStatusChanged`` with the unit as it now stands."""
    outbox.add(
        session,
        UnitStatusChanged(
            unit_id=unit.unit_id,
            type=UnitType(unit.type),
            status=UnitStatus(unit.status),
            name=unit.name,
            lat=unit.lat,
            lon=unit.lon,
            call_id=UUID(unit.current_call_id) if unit.current_call_id else None,
            changed_at=at,
        ),
    )


def _as_available(unit: RoutingUnit) -> AvailableUnit:
    return AvailableUnit(
        unit_id=unit.unit_id,
        type=UnitType(unit.type),
        lat=unit.lat,
        lon=unit.lon,
        available_since=unit.available_since or unit.updated_at,
    )


def _as_queued(call: RoutedCall) -> QueuedCall:
    return QueuedCall(
        call_id=call.call_id,
        route=Route(call.route),
        priority=call.priority,
        received_at=call.received_at,
        lat=call.lat,
        lon=call.lon,
        clinician_followup=call.clinician_followup,
    )


def claim_unit(session: Session, *, unit_id: str, call_id: str, at: datetime) -> RoutingUnit | None:
    """Take ``unit_id`` for ``call_id`` if it is still available; None when another claim won."""
    result = session.exec(
        update(RoutingUnit)
        .where(col(RoutingUnit.unit_id) == unit_id, col(RoutingUnit.status) == UnitStatus.AVAILABLE)
        .values(
            status=UnitStatus.DISPATCHED,
            current_call_id=call_id,
            available_since=None,
            updated_at=at,
            version=RoutingUnit.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return session.get(RoutingUnit, unit_id, populate_existing=True)


def claim_queued_call(
    session: Session, *, call_id: str, unit: RoutingUnit, at: datetime
) -> RoutedCall | None:
    """Take a queued call for ``unit`` if it is still queued; None when it was taken or cancelled."""
    result = session.exec(
        update(RoutedCall)
        .where(col(RoutedCall.call_id) == call_id, col(RoutedCall.status) == CallStatus.QUEUED)
        .values(
            status=CallStatus.ASSIGNED, unit_id=unit.unit_id, updated_at=at, version=RoutedCall.version + 1
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return session.get(RoutedCall, call_id, populate_existing=True)


def _record_assignment(
    session: Session, *, call: RoutedCall, unit: RoutingUnit, terms: Candidate, outbox: Outbox, at: datetime
) -> None:
    call.status = CallStatus.ASSIGNED
    call.unit_id = unit.unit_id
    call.unit_type = unit.type
    call.fallback_used = terms.fallback_used
    call.clinician_followup = terms.clinician_followup
    call.distance_km = round(terms.distance_km, 3) if terms.distance_km is not None else None
    call.assigned_at = at
    call.updated_at = at
    session.add(call)
    session.flush()
    outbox.add(
        session,
        CallRouted(
            call_id=UUID(call.call_id),
            route=Route(call.route),
            priority=call.priority,
            status=CallStatus.ASSIGNED,
            unit=AssignedUnit(unit_id=unit.unit_id, type=UnitType(unit.type), name=unit.name),
            fallback_used=call.fallback_used,
            clinician_followup=call.clinician_followup,
            distance_km=call.distance_km,
            routed_at=at,
        ),
    )
    publish_unit(session, unit=unit, outbox=outbox, at=at)


def _available_units(session: Session, types: tuple[UnitType, ...]) -> list[RoutingUnit]:
    return list(
        session.exec(
            select(RoutingUnit).where(
                col(RoutingUnit.status) == UnitStatus.AVAILABLE, col(RoutingUnit.type).in_(types)
            )
        ).all()
    )


def assign_unit(
    session: Session, *, call: RoutedCall, chains: FallbackChains, outbox: Outbox, at: datetime
) -> RoutingUnit | None:
    """Send the best available unit to ``call`` (a new, uncommitted call); None when none can go."""
    route = Route(call.route)
    units = _available_units(session, chains[route])
    for candidate in rank_units(call=_as_queued(call), units=map(_as_available, units), chains=chains):
        unit = claim_unit(session, unit_id=candidate.unit.unit_id, call_id=call.call_id, at=at)
        if unit is None:
            continue  # another instance claimed it first: try the next best
        _record_assignment(session, call=call, unit=unit, terms=candidate, outbox=outbox, at=at)
        return unit
    return None


def take_next_call(
    session: Session, *, unit: RoutingUnit, chains: FallbackChains, outbox: Outbox, at: datetime
) -> RoutedCall | None:
    """Let an available ``unit`` take the most urgent, oldest queued call it can serve."""
    if unit.status != UnitStatus.AVAILABLE:
        return None
    serves = [route for route, types in chains.items() if UnitType(unit.type) in types]
    if not serves:
        return None
    queued = session.exec(
        select(RoutedCall)
        .where(col(RoutedCall.status) == CallStatus.QUEUED, col(RoutedCall.route).in_(serves))
        .order_by(col(RoutedCall.priority), col(RoutedCall.received_at))
        .limit(200)
    ).all()
    available = _as_available(unit)
    for waiting in rank_queue(unit=available, queued=map(_as_queued, queued), chains=chains):
        call = claim_queued_call(session, call_id=waiting.call_id, unit=unit, at=at)
        if call is None:
            continue  # cancelled or taken meanwhile
        claimed = claim_unit(session, unit_id=unit.unit_id, call_id=call.call_id, at=at)
        if claimed is None:
            # The caller holds this unit's row; losing it here means a concurrent writer broke the
            # dispatch-lock protocol. Roll everything back rather than strand the call.
            raise RuntimeError(f"unit {unit.unit_id} was claimed while this transaction held it")
        terms = terms_of_service(waiting, available, chains)
        _record_assignment(session, call=call, unit=claimed, terms=terms, outbox=outbox, at=at)
        return call
    return None


def route_call(
    session: Session,
    *,
    event: CallTriaged,
    chains: FallbackChains,
    outbox: Outbox,
) -> RoutedCall:
    """Record a triaged call and assign it a unit, or queue it; a call seen before is left alone."""
    existing = session.get(RoutedCall, str(event.call_id))
    if existing is not None:
        return existing
    decision = event.decision
    location = event.location
    at = utcnow()
    call = RoutedCall(
        call_id=str(event.call_id),
        route=decision.route,
        priority=decision.priority,
        status=CallStatus.QUEUED,
        clinician_followup=decision.clinician_followup,
        lat=location.lat if location else None,
        lon=location.lon if location else None,
        address=location.address if location else None,
        threat_level=decision.threat_level,
        crisis=decision.crisis,
        needs_review=decision.needs_review,
        ems_required=decision.ems_required,
        language=language_code(decision),
        needs_interpreter=needs_interpreter(decision),
        decision=json.dumps(decision.model_dump(mode="json")),
        received_at=event.received_at,
        routed_at=at,
        updated_at=at,
    )
    take_dispatch_lock(session)
    session.add(call)
    session.flush()
    if assign_unit(session, call=call, chains=chains, outbox=outbox, at=at) is None:
        outbox.add(
            session,
            CallRouted(
                call_id=event.call_id,
                route=decision.route,
                priority=decision.priority,
                status=CallStatus.QUEUED,
                clinician_followup=decision.clinician_followup,
                routed_at=at,
            ),
        )
    return call
