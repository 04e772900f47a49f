"""The call ledger: accepting calls from CAD and following them through their lifecycle.

Plain functions over a database session; the HTTP routes and the event handlers are thin on top.
Events from different topics can arrive out of order (a call may be routed before intake has
seen that it was triaged), so the ledger orders its timeline by event time and only ever moves
a call's status forward.
"""

from __future__ import annotations

import json
from typing import Any
from uuid import UUID, uuid4

from dispatch_shared.events import (
    AssignedUnit,
    CallReceived,
    CallRouted,
    CallStatus,
    CallStatusChanged,
    CallTriaged,
    Location,
    utcnow,
)
from dispatch_shared.outbox import Outbox
from sqlalchemy import func
from sqlmodel import Session, col, select

from intake.models import Call, TimelineEntry
from intake.schemas import CallPage, CallSubmission, LedgerRecord, TimelineStep

# How far along the lifecycle each status is; the ledger never moves a call backwards.
_PROGRESS = {
    CallStatus.RECEIVED: 0,
    CallStatus.TRIAGED: 1,
    CallStatus.QUEUED: 2,
    CallStatus.ASSIGNED: 3,
    CallStatus.EN_ROUTE: 4,
    CallStatus.ON_SCENE: 5,
    CallStatus.RESOLVED: 6,
    CallStatus.CANCELLED: 6,
}


class UnknownCall(LookupError):
    """An event or request named a call the ledger does not have."""


def find_by_incident(session: Session, cad_incident_id: str) -> Call | None:
    """The call CAD already sent under this incident id, if any."""
    return session.exec(select(Call).where(Call.cad_incident_id == cad_incident_id)).first()


def accept_call(session: Session, *, submission: CallSubmission, outbox: Outbox) -> Call:
    """Record a new call and stage its ``CallReceived`` event in the same transaction."""
    received_at = submission.received_at or utcnow()
    location = submission.location
    call = Call(
        call_id=str(uuid4()),
        cad_incident_id=submission.cad_incident_id,
        narrative=submission.narrative,
        call_type=submission.call_type,
        address=location.address if location else None,
        lat=location.lat if location else None,
        lon=location.lon if location else None,
        caller=submission.caller.model_dump_json() if submission.caller else None,
        received_at=received_at,
    )
    session.add(call)
    session.add(TimelineEntry(call_id=call.call_id, status=CallStatus.RECEIVED, at=received_at))
    outbox.add(
        session,
        CallReceived(
            call_id=UUID(call.call_id),
            cad_incident_id=call.cad_incident_id,
            narrative=submission.narrative,
            call_type=submission.call_type,
            location=location,
            received_at=received_at,
        ),
    )
    return call


def _advance(session: Session, call_id: UUID, status: CallStatus, at: Any, details: dict[str, Any]) -> Call:
    call = session.get(Call, str(call_id))
    if call is None:
        raise UnknownCall(str(call_id))
    session.add(TimelineEntry(call_id=call.call_id, status=status, at=at, details=json.dumps(details)))
    if _PROGRESS[status] >= _PROGRESS[CallStatus(call.status)]:
        call.status = status
    call.updated_at = utcnow()
    session.add(call)
    return call


def record_triaged(session: Session, event: CallTriaged) -> None:
    """The triage decision: route, threat and priority, with the explained record."""
    decision = event.decision
    call = _advance(
        session,
        event.call_id,
        CallStatus.TRIAGED,
        event.triaged_at,
        {"route": decision.route, "rule": decision.rule, "priority": decision.priority},
    )
    call.route = call.route or decision.route
    call.threat_level = decision.threat_level
    call.priority = call.priority or decision.priority
    call.decision = decision.model_dump_json()


def record_routed(session: Session, event: CallRouted) -> None:
    """Routing queued the call or assigned a unit."""
    details: dict[str, Any] = {"route": event.route, "fallback_used": event.fallback_used}
    if event.unit:
        details["unit"] = event.unit.model_dump(mode="json")
        details["distance_km"] = event.distance_km
    call = _advance(session, event.call_id, event.status, event.routed_at, details)
    call.route = event.route
    call.priority = event.priority
    if event.unit:
        call.assigned_unit_id = event.unit.unit_id
        call.assigned_unit_type = event.unit.type


def record_status(session: Session, event: CallStatusChanged) -> None:
    """A lifecycle step reported by the unit (en route, on scene, resolved, cancelled)."""
    details: dict[str, Any] = {"unit_id": event.unit_id} if event.unit_id else {}
    if event.disposition:
        details["disposition"] = event.disposition
    call = _advance(session, event.call_id, event.status, event.changed_at, details)
    if event.disposition:
        call.disposition = event.disposition


def _timelines(session: Session, call_ids: list[str]) -> dict[str, list[TimelineEntry]]:
    """The timelines of several calls in one query, each in order."""
    timelines: dict[str, list[TimelineEntry]] = {call_id: [] for call_id in call_ids}
    entries = session.exec(
        select(TimelineEntry)
        .where(col(TimelineEntry.call_id).in_(call_ids))
        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
    )
    for entry in entries:
        timelines[entry.call_id].append(entry)
    return timelines


def ledger_record(call: Call, entries: list[TimelineEntry]) -> LedgerRecord:
    """The call with its timeline (``entries``, in order)."""
    location = (
        Location(address=call.address, lat=call.lat, lon=call.lon)
        if call.address is not None or call.lat is not None
        else None
    )
    unit = (
        AssignedUnit(unit_id=call.assigned_unit_id, type=call.assigned_unit_type)
        if call.assigned_unit_id
        else None
    )
    return LedgerRecord(
        call_id=UUID(call.call_id),
        cad_incident_id=call.cad_incident_id,
        status=CallStatus(call.status),
        call_type=call.call_type,
        location=location,
        received_at=call.received_at,
        route=call.route,
        threat_level=call.threat_level,
        priority=call.priority,
        assigned_unit=unit,
        disposition=call.disposition,
        decision=json.loads(call.decision) if call.decision else None,
        timeline=[TimelineStep(status=e.status, at=e.at, **json.loads(e.details)) for e in entries],
    )


def get_ledger(session: Session, call_id: UUID) -> LedgerRecord:
    """One call's ledger record, or UnknownCall."""
    call = session.get(Call, str(call_id))
    if call is None:
        raise UnknownCall(str(call_id))
    return ledger_record(call, _timelines(session, [call.call_id])[call.call_id])


def list_calls(
    session: Session,
    *,
    status: CallStatus | None = None,
    route: str | None = None,
    cad_incident_id: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> CallPage:
    """Calls newest first, filtered by status, route or CAD id."""
    query = select(Call)
    if status is not None:
        query = query.where(Call.status == status)
    if route is not None:
        query = query.where(Call.route == route)
    if cad_incident_id is not None:
        query = query.where(Call.cad_incident_id == cad_incident_id)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    calls = session.exec(
        query.order_by(col(Call.received_at).desc(), col(Call.call_id)).limit(limit).offset(offset)
    ).all()
    timelines = _timelines(session, [call.call_id for call in calls])
    return CallPage(
        items=[ledger_record(call, timelines[call.call_id]) for call in calls],
        total=total,
        limit=limit,
        offset=offset,
    )
