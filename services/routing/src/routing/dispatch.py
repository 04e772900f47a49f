"""Turning routes into dispatched units: assign on arrival, queue when none can serve, drain the queue.

Every function works inside the caller's transaction and stages its events in the outbox there,
so an event exists exactly when its change committed. Two safeguards keep assignments sound when
several routing instances share one database:

* claims are conditional updates (a unit only from ``available``, a call only from ``queued``),
  checked by row count; whoever loses a race moves on to the next candidate;
* decisions that could pair a waiting call with an idle unit first take the dispatch lock row,
  so a call queued here and a unit freed there cannot miss each other.

A call triaged again (a higher ``CallTriaged.revision``) is re-routed by ``retriage.decide_retriage``:
an escalation adds a unit at once (a ``routing_call_units`` row beside the primary ``unit_id``),
or marks the call ``awaiting_route`` when none is free so the next unit freed that serves it goes.
A dispatcher's override holds against later revisions that read no more than it overruled
(``overridden_route`` / ``overridden_threat_level`` on the call), and frees the units escalations
added that its route no longer needs.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from uuid import UUID

from dispatch_shared.errors import NotFound
from dispatch_shared.events import (
    AssignedUnit,
    CallRouted,
    CallStatus,
    CallTriaged,
    Location,
    OverrideReason,
    Route,
    RouteReason,
    ThreatLevel,
    TriageDecision,
    UnitStatus,
    UnitStatusChanged,
    UnitType,
    utcnow,
)
from dispatch_shared.outbox import Outbox
from sqlalchemy import and_, or_
from sqlmodel import Session, col, select, update

from routing.assignment import (
    AvailableUnit,
    Candidate,
    FallbackChains,
    QueuedCall,
    passed_over,
    rank_queue,
    rank_units,
    terms_of_service,
)
from routing.coverage import Duty
from routing.language import language_code, needs_interpreter
from routing.lifecycle import CLOSED
from routing.models import CallOverride, CallUnit, DispatchLock, RoutedCall, RoutingUnit, json_list
from routing.override import (
    OverrideState,
    StaleOverride,
    UnitBusy,
    backup_route,
    decide_override,
)
from routing.retriage import (
    ROUTE_RANK,
    THREAT_RANK,
    CallState,
    Reading,
    RetriageAction,
    decide_retriage,
    unneeded_units,
)
from routing.unserved import ELIGIBLE_ROUTES, UnservedReason, fallback_reason, record_unserved

ANYTIME = Duty()
"""No shift or zone rules: every available unit may take any call."""

__all__ = [
    "Override",
    "UnknownCall",
    "UnknownUnit",
    "assign_unit",
    "override_call",
    "request_backup",
    "claim_queued_call",
    "claim_unit",
    "publish_unit",
    "release_added_unit",
    "release_unit",
    "retriage_call",
    "route_call",
    "units_on_call",
    "review_queue",
    "take_dispatch_lock",
    "take_next_call",
]


class UnknownCall(NotFound, LookupError):
    """routing has no call with this id (not triaged yet, or never): 404."""

    def __init__(self, call_id: str) -> None:
        super().__init__(f"no call {call_id}")
        self.call_id = call_id


class UnknownUnit(LookupError):
    """The roster has no unit with this id."""


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


def _as_available(unit: RoutingUnit, duty: Duty = ANYTIME) -> AvailableUnit:
    hours, zones = json_list(unit.service_hours), json_list(unit.zones)
    return AvailableUnit(
        unit_id=unit.unit_id,
        type=UnitType(unit.type),
        lat=unit.lat,
        lon=unit.lon,
        available_since=unit.available_since or unit.updated_at,
        coverage=duty.coverage(UnitType(unit.type), hours, zones),
    )


def _note_fallback(
    session: Session,
    *,
    call: RoutedCall,
    wanted: QueuedCall,
    chains: FallbackChains,
    duty: Duty,
    at: datetime,
    free: list[AvailableUnit] | None = None,
) -> None:
    """An eligible call is being served by a fallback unit: record why its first unit type did not go.

    ``free``: the available units already read for this decision (read here when None).
    """
    route = Route(call.route)
    if route not in ELIGIBLE_ROUTES:
        return
    first = chains[route][0]
    if free is None:
        free = [_as_available(unit, duty) for unit in _available_units(session, (first,))]
    reason = fallback_reason(passed_over(call=wanted, units=free, unit_type=first, duty=duty, at=at))
    record_unserved(session, call_id=call.call_id, route=route, reason=reason, at=at)


def _as_queued(call: RoutedCall) -> QueuedCall:
    """The call as the queue ranks it; an escalated call awaiting a unit waits for its awaited route."""
    waiting_for = (
        call.awaiting_route if call.status != CallStatus.QUEUED and call.awaiting_route else call.route
    )
    return QueuedCall(
        call_id=call.call_id,
        route=Route(waiting_for),
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
    session: Session,
    *,
    call: RoutedCall,
    unit: RoutingUnit,
    terms: Candidate,
    outbox: Outbox,
    at: datetime,
    reason: RouteReason = RouteReason.TRIAGED,
    override_reason: OverrideReason | None = None,
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
    _publish_routed(
        session,
        call=call,
        outbox=outbox,
        at=at,
        status=CallStatus.ASSIGNED,
        reason=reason,
        unit=unit,
        distance_km=call.distance_km,
        override_reason=override_reason,
    )
    publish_unit(session, unit=unit, outbox=outbox, at=at)


def _record_added_unit(
    session: Session,
    *,
    call: RoutedCall,
    unit: RoutingUnit,
    terms: Candidate,
    outbox: Outbox,
    at: datetime,
    reason: RouteReason = RouteReason.RE_TRIAGED,
    backup_reason: str | None = None,
) -> CallUnit:
    """Put a claimed ``unit`` on ``call`` beside its primary, and publish both changes.

    A unit an override released from this call and now sent again takes its row back (one row per
    unit and call), with the new terms.
    """
    distance = round(terms.distance_km, 3) if terms.distance_km is not None else None
    terms_now = {
        "unit_type": unit.type,
        "revision": call.revision,
        "distance_km": distance,
        "fallback_used": terms.fallback_used,
        "assigned_at": at,
        "released_at": None,
        "backup_reason": backup_reason,
    }
    added = session.get(CallUnit, (call.call_id, unit.unit_id), populate_existing=True)
    if added is None:
        added = CallUnit.model_validate({"call_id": call.call_id, "unit_id": unit.unit_id} | terms_now)
    else:
        added.sqlmodel_update(terms_now)
    session.add(added)
    session.flush()
    _publish_routed(
        session,
        call=call,
        outbox=outbox,
        at=at,
        status=CallStatus.ASSIGNED,
        reason=reason,
        unit=unit,
        fallback_used=terms.fallback_used,
        distance_km=distance,
    )
    publish_unit(session, unit=unit, outbox=outbox, at=at)
    return added


def units_on_call(session: Session, call: RoutedCall) -> list[CallUnit]:
    """Units added to ``call`` beyond its primary and not yet released, in the order they were sent."""
    return list(
        session.exec(
            select(CallUnit)
            .where(col(CallUnit.call_id) == call.call_id, col(CallUnit.released_at).is_(None))
            .order_by(col(CallUnit.assigned_at), col(CallUnit.unit_id))
        ).all()
    )


def _available_units(session: Session, types: tuple[UnitType, ...]) -> list[RoutingUnit]:
    return list(
        session.exec(
            select(RoutingUnit).where(
                col(RoutingUnit.status) == UnitStatus.AVAILABLE, col(RoutingUnit.type).in_(types)
            )
        ).all()
    )


def assign_unit(
    session: Session,
    *,
    call: RoutedCall,
    chains: FallbackChains,
    outbox: Outbox,
    at: datetime,
    reason: RouteReason = RouteReason.TRIAGED,
    override_reason: OverrideReason | None = None,
    duty: Duty = ANYTIME,
) -> RoutingUnit | None:
    """Send the best available unit to ``call`` (new, or queued under the dispatch lock); None if none can.

    Units off shift or outside their zones are passed over (``duty``). An eligible call served by
    a fallback unit is recorded as unserved with the reason (``routing.unserved``).
    """
    route = Route(call.route)
    units = [_as_available(unit, duty) for unit in _available_units(session, chains[route])]
    wanted = _as_queued(call)
    for candidate in rank_units(call=wanted, units=units, chains=chains, duty=duty, at=at):
        unit = claim_unit(session, unit_id=candidate.unit.unit_id, call_id=call.call_id, at=at)
        if unit is None:
            continue  # another instance claimed it first: try the next best
        if candidate.fallback_used and reason is not RouteReason.OVERRIDE:
            _note_fallback(session, call=call, wanted=wanted, chains=chains, duty=duty, at=at, free=units)
        _record_assignment(
            session,
            call=call,
            unit=unit,
            terms=candidate,
            outbox=outbox,
            at=at,
            reason=reason,
            override_reason=override_reason,
        )
        return unit
    return None


def _add_unit(
    session: Session,
    *,
    call: RoutedCall,
    route: Route,
    chains: FallbackChains,
    outbox: Outbox,
    at: datetime,
    reason: RouteReason = RouteReason.RE_TRIAGED,
    backup_reason: str | None = None,
    duty: Duty = ANYTIME,
) -> CallUnit | None:
    """Add the best available unit of ``route``'s chain to a call that has units; None when none is free."""
    units = [_as_available(unit, duty) for unit in _available_units(session, chains[route])]
    wanted = replace(_as_queued(call), route=route)
    for candidate in rank_units(call=wanted, units=units, chains=chains, duty=duty, at=at):
        unit = claim_unit(session, unit_id=candidate.unit.unit_id, call_id=call.call_id, at=at)
        if unit is None:
            continue
        return _record_added_unit(
            session,
            call=call,
            unit=unit,
            terms=candidate,
            outbox=outbox,
            at=at,
            reason=reason,
            backup_reason=backup_reason,
        )
    return None


def _claim_awaiting_call(session: Session, *, call_id: str, route: Route) -> RoutedCall | None:
    """Take an open call's wait for a unit of ``route``; None when it was served, re-triaged or closed."""
    result = session.exec(
        update(RoutedCall)
        .where(
            col(RoutedCall.call_id) == call_id,
            col(RoutedCall.awaiting_route) == route,
            col(RoutedCall.status).not_in(list(CLOSED)),
        )
        .values(awaiting_route=None, version=RoutedCall.version + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    return session.get(RoutedCall, call_id, populate_existing=True)


def take_next_call(
    session: Session,
    *,
    unit: RoutingUnit,
    chains: FallbackChains,
    outbox: Outbox,
    at: datetime,
    duty: Duty = ANYTIME,
) -> RoutedCall | None:
    """Let an available ``unit`` take the most urgent, oldest queued call it can serve.

    None while the unit is off shift; only calls inside its zones (``duty``). An eligible call a
    fallback unit takes, or one that waited longer than ``duty.queue_timeout_s``, is recorded as
    unserved.
    """
    if unit.status != UnitStatus.AVAILABLE:
        return None
    serves = [route for route, types in chains.items() if UnitType(unit.type) in types]
    if not serves:
        return None
    queued = session.exec(
        select(RoutedCall)
        .where(
            or_(
                and_(col(RoutedCall.status) == CallStatus.QUEUED, col(RoutedCall.route).in_(serves)),
                # Escalated calls whose added unit could not be found: they wait in the same order.
                and_(col(RoutedCall.awaiting_route).in_(serves), col(RoutedCall.status).not_in(list(CLOSED))),
            )
        )
        .order_by(col(RoutedCall.priority), col(RoutedCall.received_at))
        .limit(200)
    ).all()
    awaiting = {call.call_id for call in queued if call.status != CallStatus.QUEUED}
    available = _as_available(unit, duty)
    for waiting in rank_queue(
        unit=available, queued=map(_as_queued, queued), chains=chains, duty=duty, at=at
    ):
        if waiting.call_id in awaiting:
            escalated = _claim_awaiting_call(session, call_id=waiting.call_id, route=waiting.route)
            if escalated is None:
                continue
            claimed = claim_unit(session, unit_id=unit.unit_id, call_id=escalated.call_id, at=at)
            if claimed is None:
                raise RuntimeError(f"unit {unit.unit_id} was claimed while this transaction held it")
            terms = terms_of_service(waiting, available, chains)
            # A wait left by a backup request is filled as backup; one left by an escalation, as that.
            backup_reason = escalated.awaiting_backup
            if backup_reason is not None:
                escalated = _update_call(session, escalated, {"awaiting_backup": None})
            _record_added_unit(
                session,
                call=escalated,
                unit=claimed,
                terms=terms,
                outbox=outbox,
                at=at,
                reason=RouteReason.RE_TRIAGED if backup_reason is None else RouteReason.BACKUP,
                backup_reason=backup_reason,
            )
            return escalated
        call = claim_queued_call(session, call_id=waiting.call_id, unit=unit, at=at)
        if call is None:
            continue  # cancelled or taken meanwhile
        claimed = claim_unit(session, unit_id=unit.unit_id, call_id=call.call_id, at=at)
        if claimed is None:
            # The caller holds this unit's row; losing it here means a concurrent writer broke the
            # dispatch-lock protocol. Roll everything back rather than strand the call.
            raise RuntimeError(f"unit {unit.unit_id} was claimed while this transaction held it")
        terms = terms_of_service(waiting, available, chains)
        if terms.fallback_used:
            _note_fallback(session, call=call, wanted=waiting, chains=chains, duty=duty, at=at)
        if duty.queue_timeout_s is not None and (at - call.routed_at).total_seconds() > duty.queue_timeout_s:
            record_unserved(
                session,
                call_id=call.call_id,
                route=Route(call.route),
                reason=UnservedReason.QUEUE_TIMEOUT,
                at=at,
            )
        _record_assignment(session, call=call, unit=claimed, terms=terms, outbox=outbox, at=at)
        return call
    return None


def _reading(decision: TriageDecision, location: Location | None) -> dict[str, object]:
    """The call's columns that come from triage's decision (and where the call is, when given)."""
    values: dict[str, object] = {
        "route": decision.route,
        "priority": decision.priority,
        "clinician_followup": decision.clinician_followup,
        "threat_level": decision.threat_level,
        "crisis": decision.crisis,
        "needs_review": decision.needs_review,
        "ems_required": decision.ems_required,
        "language": language_code(decision),
        "needs_interpreter": needs_interpreter(decision),
        "decision": json.dumps(decision.model_dump(mode="json")),
    }
    if location is not None:
        values |= {"lat": location.lat, "lon": location.lon, "address": location.address}
    return values


def route_call(
    session: Session,
    *,
    event: CallTriaged,
    chains: FallbackChains,
    outbox: Outbox,
    duty: Duty = ANYTIME,
) -> RoutedCall:
    """Record a triaged call and assign it a unit, or queue it; a call seen before is re-triaged."""
    take_dispatch_lock(session)
    existing = session.get(RoutedCall, str(event.call_id), populate_existing=True)
    if existing is not None:
        return retriage_call(session, call=existing, event=event, chains=chains, outbox=outbox, duty=duty)
    at = utcnow()
    call = RoutedCall.model_validate(
        {
            "call_id": str(event.call_id),
            "status": CallStatus.QUEUED,
            "received_at": event.received_at,
            "routed_at": at,
            "updated_at": at,
            "revision": event.revision,
            "triaged_route": event.decision.route,
        }
        | _reading(event.decision, event.location)
    )
    session.add(call)
    session.flush()
    if assign_unit(session, call=call, chains=chains, outbox=outbox, at=at, duty=duty) is None:
        _publish_queued(session, call=call, outbox=outbox, at=at, reason=RouteReason.TRIAGED)
    return call


def _publish_routed(
    session: Session,
    *,
    call: RoutedCall,
    outbox: Outbox,
    at: datetime,
    status: CallStatus,
    reason: RouteReason,
    unit: RoutingUnit | None = None,
    fallback_used: bool | None = None,
    distance_km: float | None = None,
    override_reason: OverrideReason | None = None,
) -> None:
    """Publish ``CallRouted`` for ``call`` as it stands now (route, priority, revision, staging).

    ``unit``: the unit this change sent, if any; ``fallback_used``: the call's own unless given.
    """
    outbox.add(
        session,
        CallRouted(
            call_id=UUID(call.call_id),
            route=Route(call.route),
            priority=call.priority,
            status=status,
            unit=(
                AssignedUnit(unit_id=unit.unit_id, type=UnitType(unit.type), name=unit.name)
                if unit is not None
                else None
            ),
            fallback_used=call.fallback_used if fallback_used is None else fallback_used,
            clinician_followup=call.clinician_followup,
            distance_km=distance_km,
            routed_at=at,
            reason=reason,
            override_reason=override_reason,
            revision=call.revision,
            staging=call.staging,
        ),
    )


def _publish_queued(
    session: Session,
    *,
    call: RoutedCall,
    outbox: Outbox,
    at: datetime,
    reason: RouteReason,
    override_reason: OverrideReason | None = None,
) -> None:
    _publish_routed(
        session,
        call=call,
        outbox=outbox,
        at=at,
        status=CallStatus.QUEUED,
        reason=reason,
        fallback_used=False,
        override_reason=override_reason,
    )


def _overridden(call: RoutedCall) -> Reading | None:
    """The reading the dispatcher overrides in force on ``call`` set aside; None when none holds."""
    if call.overridden_route is None:
        return None
    threat = ThreatLevel(call.overridden_threat_level or ThreatLevel.NONE)
    return Reading(Route(call.overridden_route), threat)


def _update_call(session: Session, call: RoutedCall, values: dict[str, object]) -> RoutedCall:
    """Write ``values`` to the call (bumping its version) and read it back."""
    session.exec(
        update(RoutedCall)
        .where(col(RoutedCall.call_id) == call.call_id)
        .values(**values, version=RoutedCall.version + 1)
        .execution_options(synchronize_session=False)
    )
    updated = session.get(RoutedCall, call.call_id, populate_existing=True)
    assert updated is not None
    return updated


def retriage_call(
    session: Session,
    *,
    call: RoutedCall,
    event: CallTriaged,
    chains: FallbackChains,
    outbox: Outbox,
    duty: Duty = ANYTIME,
) -> RoutedCall:
    """Apply a new triage revision of a known call (see ``routing.retriage``); the caller holds the lock.

    Escalations and re-queued calls publish ``CallRouted`` with reason ``re_triaged`` and the
    revision; a suggestion (a de-escalation, or a route an override holds against) or an unchanged
    response publishes nothing. An escalation past an override ends its hold.
    """
    decision = event.decision
    added = units_on_call(session, call)
    primary = (UnitType(call.unit_type),) if call.unit_id and call.unit_type else ()
    state = CallState(
        route=Route(call.route),
        threat_level=ThreatLevel(call.threat_level or ThreatLevel.NONE),
        revision=call.revision,
        status=CallStatus(call.status),
        unit_types=primary + tuple(UnitType(unit.unit_type) for unit in added),
        overridden=_overridden(call),
    )
    plan = decide_retriage(
        state,
        route=decision.route,
        threat_level=decision.threat_level,
        revision=event.revision,
        chains=chains,
    )
    if plan.action is RetriageAction.IGNORE:
        return call
    at = utcnow()
    values: dict[str, object] = {"revision": event.revision, "updated_at": at}
    if plan.action is RetriageAction.SUGGEST:
        # The response in force stays; the latest reading and the other route wait for a dispatcher.
        values |= {
            "decision": json.dumps(decision.model_dump(mode="json")),
            "suggested_route": plan.suggested_route,
        }
        return _update_call(session, call, values)
    if plan.action is RetriageAction.RECORD:
        reading = _reading(decision, event.location)
        values |= {
            "decision": reading["decision"],
            "priority": min(call.priority, decision.priority),  # never less urgent without a dispatcher
            "suggested_route": None,
        }
        return _update_call(session, call, values)
    # Under a holding override the dispatcher's route stays and the revision's is only suggested;
    # otherwise the system routes the call again and no override holds any more.
    new_route = Route(call.route) if plan.held else decision.route
    values |= _reading(decision, event.location) | {
        "route": new_route,
        "suggested_route": plan.suggested_route,
        "routed_at": at,
    }
    if not plan.held:
        values |= {"overridden_route": None, "overridden_threat_level": None}
    if plan.action is RetriageAction.REQUEUE:
        if ROUTE_RANK[new_route] > ROUTE_RANK[Route(call.route)]:
            record_unserved(
                session,
                call_id=call.call_id,
                route=Route(call.route),
                reason=UnservedReason.ESCALATED_BY_SAFETY,
                at=at,
            )
        call = _update_call(session, call, values)
        sent = assign_unit(
            session, call=call, chains=chains, outbox=outbox, at=at, reason=RouteReason.RE_TRIAGED, duty=duty
        )
        if sent is None:
            _publish_queued(session, call=call, outbox=outbox, at=at, reason=RouteReason.RE_TRIAGED)
        return call
    # Escalation: the new response goes now, the units already there stay, and nothing gets less
    # urgent or less dangerous on the call without a dispatcher.
    values |= {
        "threat_level": max(state.threat_level, decision.threat_level, key=THREAT_RANK.__getitem__),
        "priority": min(call.priority, decision.priority),
        "clinician_followup": call.clinician_followup or decision.clinician_followup,
        "staging": call.staging or plan.staging,
        "awaiting_route": None,
        "awaiting_backup": None,
    }
    if Route(call.route) in ELIGIBLE_ROUTES and (decision.route != call.route or plan.staging):
        record_unserved(
            session,
            call_id=call.call_id,
            route=Route(call.route),
            reason=UnservedReason.ESCALATED_BY_SAFETY,
            at=at,
        )
    call = _update_call(session, call, values)
    if plan.add_unit_for is not None:
        added_now = _add_unit(
            session, call=call, route=plan.add_unit_for, chains=chains, outbox=outbox, at=at, duty=duty
        )
        if added_now is not None:
            return call
        call = _update_call(session, call, {"awaiting_route": plan.add_unit_for})
    # Nothing added (the units there serve the new route, or none is free yet): the change still goes out.
    _publish_routed(
        session, call=call, outbox=outbox, at=at, status=CallStatus.ASSIGNED, reason=RouteReason.RE_TRIAGED
    )
    return call


@dataclass(frozen=True)
class Override:
    """A dispatcher's override: a new route and/or a named primary unit, and why."""

    reason: OverrideReason
    route: Route | None = None
    unit_id: str | None = None
    notes: str | None = None
    by: str = "console"
    """Who overrode: the dispatcher as they named themselves, else the role of the key."""
    version: int | None = None
    """The call's ``version`` the dispatcher saw; None: as it is now."""


def release_unit(
    session: Session, *, call_id: str, unit_id: str, outbox: Outbox, at: datetime
) -> RoutingUnit | None:
    """Make a unit on ``call_id`` available again and publish it; None when it had already left the
    call (re-registered away meanwhile), so nothing of this call's is freed."""
    result = session.exec(
        update(RoutingUnit)
        .where(col(RoutingUnit.unit_id) == unit_id, col(RoutingUnit.current_call_id) == call_id)
        .values(
            status=UnitStatus.AVAILABLE,
            current_call_id=None,
            available_since=at,
            updated_at=at,
            version=RoutingUnit.version + 1,
        )
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return None
    unit = session.get(RoutingUnit, unit_id, populate_existing=True)
    assert unit is not None
    publish_unit(session, unit=unit, outbox=outbox, at=at)
    return unit


def release_added_unit(
    session: Session, *, call_id: str, added: CallUnit, outbox: Outbox, at: datetime
) -> RoutingUnit | None:
    """Take a unit added to ``call_id`` off the call: its ``routing_call_units`` row is marked
    released at ``at`` and the unit freed (``release_unit``), which returns it or None."""
    added.released_at = at
    session.add(added)
    return release_unit(session, call_id=call_id, unit_id=added.unit_id, outbox=outbox, at=at)


def override_call(
    session: Session,
    *,
    call_id: str,
    override: Override,
    chains: FallbackChains,
    outbox: Outbox,
    duty: Duty = ANYTIME,
) -> RoutedCall:
    """Apply a dispatcher's override under the dispatch lock, publishing ``CallRouted`` (reason override).

    Raises UnknownCall, UnknownUnit, or an ``OverrideRefused`` (see ``routing.override``). The
    override is recorded as a ``routing_overrides`` row; triage's ``decision`` on the call stays.
    A named unit becomes the primary and the previous primary is freed to take queued work; a
    queued call re-routed without a named unit is offered to the units of its new route. Units that
    escalations added and the route no longer needs (``retriage.unneeded_units``) are freed the same
    way and listed on the row, and an escalation's wait for a unit ends; backup the field asked for
    stays. The call remembers the reading the override set aside, so a later revision re-routes past
    it only when it reads more; a clinician team stays staged only while the route is police.
    """
    take_dispatch_lock(session)
    call = session.get(RoutedCall, call_id, populate_existing=True)
    if call is None:
        raise UnknownCall(call_id)
    named = None
    if override.unit_id is not None:
        named = session.get(RoutingUnit, override.unit_id, populate_existing=True)
        if named is None:
            raise UnknownUnit(override.unit_id)
    state = OverrideState(
        call_status=CallStatus(call.status),
        route=Route(call.route),
        version=call.version,
        primary_unit_id=call.unit_id,
        primary_type=UnitType(call.unit_type) if call.unit_id and call.unit_type else None,
        unit_id=named.unit_id if named else None,
        unit_type=UnitType(named.type) if named else None,
        unit_status=UnitStatus(named.status) if named else None,
        unit_call_id=named.current_call_id if named else None,
    )
    expected = call.version if override.version is None else override.version
    plan = decide_override(state, route=override.route, expected_version=expected, chains=chains)
    at = utcnow()
    record = CallOverride(
        call_id=call.call_id,
        overridden_at=at,
        by=override.by,
        reason=override.reason,
        notes=override.notes,
        from_route=call.route,
        to_route=plan.route,
        from_unit_id=call.unit_id,
        to_unit_id=named.unit_id if plan.reassign and named else call.unit_id,
    )
    overruled = Reading(Route(call.route), ThreatLevel(call.threat_level or ThreatLevel.NONE))
    overruled = overruled.most_severe(_overridden(call))
    values: dict[str, object] = {
        "route": plan.route,
        "suggested_route": None,
        "overridden_route": overruled.route,
        "overridden_threat_level": overruled.threat_level,
        "staging": call.staging and plan.route is Route.POLICE,
        "routed_at": at,
        "updated_at": at,
    }
    if call.awaiting_backup is None and (plan.reassign or call.unit_id is not None):
        values["awaiting_route"] = None  # the primary serves the route: an escalation's wait is over
    result = session.exec(
        update(RoutedCall)
        .where(col(RoutedCall.call_id) == call_id, col(RoutedCall.version) == expected)
        .values(**values, version=expected + 1)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        raise StaleOverride(f"call {call_id} changed while the override was applied")
    other_type = (
        plan.reassign and named is not None and UnitType(named.type) != chains[Route(record.from_route)][0]
    )
    if plan.route != record.from_route or other_type:
        record_unserved(
            session,
            call_id=call_id,
            route=Route(record.from_route),
            reason=UnservedReason.DISPATCHER_OVERRIDE,
            at=at,
        )
    call = session.get(RoutedCall, call_id, populate_existing=True)
    assert call is not None
    freed: RoutingUnit | None = None
    if plan.reassign and named is not None:
        unit = claim_unit(session, unit_id=named.unit_id, call_id=call_id, at=at)
        if unit is None:
            raise UnitBusy(f"unit {named.unit_id} was taken meanwhile")
        if call.unit_id is not None:
            freed = release_unit(session, call_id=call_id, unit_id=call.unit_id, outbox=outbox, at=at)
        wanted = replace(_as_queued(call), route=Route(call.route))  # not a wait for an added unit
        terms = terms_of_service(wanted, _as_available(named), chains)
        _record_assignment(
            session,
            call=call,
            unit=unit,
            terms=terms,
            outbox=outbox,
            at=at,
            reason=RouteReason.OVERRIDE,
            override_reason=override.reason,
        )
    elif call.status == CallStatus.QUEUED:
        sent = assign_unit(
            session,
            call=call,
            chains=chains,
            outbox=outbox,
            at=at,
            reason=RouteReason.OVERRIDE,
            override_reason=override.reason,
            duty=duty,
        )
        if sent is None:
            _publish_queued(
                session,
                call=call,
                outbox=outbox,
                at=at,
                reason=RouteReason.OVERRIDE,
                override_reason=override.reason,
            )
        record.to_unit_id = call.unit_id
    else:
        primary = session.get(RoutingUnit, call.unit_id) if call.unit_id else None
        _publish_routed(
            session,
            call=call,
            outbox=outbox,
            at=at,
            status=CallStatus.ASSIGNED,
            reason=RouteReason.OVERRIDE,
            unit=primary,
            distance_km=call.distance_km,
            override_reason=override.reason,
        )
    freed_units = [freed] if freed is not None else []
    released = _release_unneeded(session, call=call, route=plan.route, chains=chains, outbox=outbox, at=at)
    if released:
        record.released_unit_ids = json.dumps([unit_id for unit_id, _ in released])
        freed_units += [unit for _, unit in released if unit is not None]
    session.add(record)
    session.flush()
    for unit in freed_units:  # once all are free, so each sees the others' calls taken
        take_next_call(session, unit=unit, chains=chains, outbox=outbox, at=at, duty=duty)
    return call


def _release_unneeded(
    session: Session, *, call: RoutedCall, route: Route, chains: FallbackChains, outbox: Outbox, at: datetime
) -> list[tuple[str, RoutingUnit | None]]:
    """Free the units escalations added to ``call`` that ``route`` no longer needs (``release_unit``).

    Returns (unit id, the unit freed, or None when it had already left the call) in the order sent;
    each through ``release_added_unit``. Backup units are not considered.
    """
    by_escalation = [unit for unit in units_on_call(session, call) if unit.backup_reason is None]
    primary = UnitType(call.unit_type) if call.unit_id and call.unit_type else None
    unneeded = set(
        unneeded_units(
            route, primary, [(unit.unit_id, UnitType(unit.unit_type)) for unit in by_escalation], chains
        )
    )
    released: list[tuple[str, RoutingUnit | None]] = []
    for added in by_escalation:
        if added.unit_id not in unneeded:
            continue
        freed = release_added_unit(session, call_id=call.call_id, added=added, outbox=outbox, at=at)
        released.append((added.unit_id, freed))
    return released


def request_backup(
    session: Session,
    *,
    call_id: str,
    unit_type: UnitType,
    reason: str,
    chains: FallbackChains,
    outbox: Outbox,
    duty: Duty = ANYTIME,
) -> RoutedCall:
    """Add the nearest free unit of ``unit_type`` to a call with units (``CallRouted`` reason backup).

    The units on the call stay and its status does not change. When no unit of the type is free,
    the call waits for the next one freed (``awaiting_route``) and ``CallRouted`` goes out without a
    unit. Raises UnknownCall, or BackupNotPossible for a closed or still queued call.
    """
    take_dispatch_lock(session)
    call = session.get(RoutedCall, call_id, populate_existing=True)
    if call is None:
        raise UnknownCall(call_id)
    route = backup_route(unit_type, CallStatus(call.status), has_unit=call.unit_id is not None)
    exact = {**chains, route: (unit_type,)}  # backup of this type, not its route's fallbacks
    at = utcnow()
    call = _update_call(session, call, {"updated_at": at})
    added = _add_unit(
        session,
        call=call,
        route=route,
        chains=exact,
        outbox=outbox,
        at=at,
        reason=RouteReason.BACKUP,
        backup_reason=reason,
        duty=duty,
    )
    if added is not None:
        return call
    call = _update_call(session, call, {"awaiting_route": route, "awaiting_backup": reason})
    _publish_routed(
        session, call=call, outbox=outbox, at=at, status=CallStatus.ASSIGNED, reason=RouteReason.BACKUP
    )
    return call


def review_queue(
    session: Session, *, chains: FallbackChains, outbox: Outbox, duty: Duty, at: datetime
) -> int:
    """The periodic look at the queue; returns how many calls were newly recorded as waiting too long.

    Eligible calls queued longer than ``duty.queue_timeout_s`` are recorded as unserved
    (``queue_timeout``), and every available unit is offered the queue again, so a team whose
    shift has just begun takes the calls that waited for it.
    """
    take_dispatch_lock(session)
    waiting = session.exec(
        select(RoutedCall.call_id, RoutedCall.route, RoutedCall.routed_at, RoutedCall.status).where(
            or_(
                col(RoutedCall.status) == CallStatus.QUEUED,
                and_(
                    col(RoutedCall.awaiting_route).is_not(None), col(RoutedCall.status).not_in(list(CLOSED))
                ),
            )
        )
    ).all()
    if not waiting:
        return 0
    overdue = 0
    if duty.queue_timeout_s is not None:
        for call_id, route, routed_at, status in waiting:
            if status == CallStatus.QUEUED and (at - routed_at).total_seconds() > duty.queue_timeout_s:
                overdue += record_unserved(
                    session, call_id=call_id, route=Route(route), reason=UnservedReason.QUEUE_TIMEOUT, at=at
                )
    for unit in _available_units(session, tuple(UnitType)):
        take_next_call(session, unit=unit, chains=chains, outbox=outbox, at=at, duty=duty)
    return overdue
