"""The call ledger: accepting calls from CAD and following them through their lifecycle.

Plain functions over a database session; the HTTP routes and the event handlers are thin on top.
Events from different topics can arrive out of order (a call may be routed before intake has
seen that it was triaged), so the ledger orders its timeline by event time and only ever moves
a call's status forward.

A call changes after it is received when CAD resends the incident with a different narrative,
call type or location (the new version replaces the old) or appends a supplemental note; each
change is a new revision, published as ``CallUpdated`` with the whole call text (see
``intake.revisions`` for the rules). Changes are serialised on the call's row: the first write
of the transaction locks it (a row lock on PostgreSQL, the database's write lock on SQLite), and
only then is the call read, compared and counted. Triage decides each revision; the call's
route, priority, threat level and decision follow the newest revision, never an older one
arriving late.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal
from uuid import UUID, uuid4

from dispatch_shared.events import (
    AssignedUnit,
    CallReceived,
    CallRouted,
    CallStatus,
    CallStatusChanged,
    CallTriaged,
    CallUpdated,
    Location,
    RouteReason,
    utcnow,
)
from dispatch_shared.outbox import Outbox
from dispatch_shared.runtime import UnitOfWork
from sqlalchemy import func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, select

from intake.models import Call, CallChange, TimelineEntry
from intake.revisions import (
    IncidentVersion,
    Note,
    changed_fields,
    compose_call_text,
    next_revision,
    precedence,
)
from intake.schemas import CallPage, CallSubmission, LedgerRecord, NoteSubmission, TimelineStep

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


_STATUSES = {status.value for status in CallStatus}
_CLOSED = {CallStatus.RESOLVED, CallStatus.CANCELLED}
# Timeline steps of changes, by CallUpdated.change.
_CHANGE_STEPS = {"resent": "updated", "note": "note"}
# The whole call text one CallUpdated may carry: a bound on what every later note republishes.
CALL_TEXT_MAX_CHARS = 50_000


class UnknownCall(LookupError):
    """An event or request named a call the ledger does not have."""


class ChangeRefused(ValueError):
    """A change the call cannot take: it is resolved or cancelled, or its text is full. ``str`` says why."""


@dataclass(frozen=True)
class Resubmission:
    """What a repeat submission of a known incident did: ``updated`` is False for an unchanged repeat."""

    call: Call
    updated: bool


def find_by_incident(session: Session, cad_incident_id: str) -> Call | None:
    """The call CAD already sent under this incident id, if any."""
    return session.exec(select(Call).where(Call.cad_incident_id == cad_incident_id)).first()


@dataclass(frozen=True)
class Submitted:
    """What a submission did: ``new`` for a first receipt, ``updated`` for a differing repeat."""

    call: Call
    new: bool
    updated: bool


def submit_call(session: Session, *, submission: CallSubmission, outbox: Outbox) -> Submitted:
    """Accept a new call, or apply a repeat of a known incident (``resubmit_call``).

    The one way a CAD submission enters the ledger, whatever its format (REST or EIDO). A
    concurrent first submission of the same incident makes the insert fail with IntegrityError
    at commit; the caller retries, and the retry is a repeat. ChangeRefused as ``resubmit_call``.
    """
    existing = find_by_incident(session, submission.cad_incident_id)
    if existing is None:
        return Submitted(
            call=accept_call(session, submission=submission, outbox=outbox), new=True, updated=False
        )
    repeat = resubmit_call(session, call_id=existing.call_id, submission=submission, outbox=outbox)
    return Submitted(call=repeat.call, new=False, updated=repeat.updated)


def record_submission(unit_of_work: UnitOfWork, submit: Callable[[Session], Submitted]) -> Submitted:
    """Run ``submit`` (``submit_call`` or ``eido.receive_eido`` with its input) in a unit of work.

    When a concurrent first post of the same incident wins the insert (IntegrityError at commit),
    the work is run once more in a new unit of work, where it is a repeat (``new`` False); a
    second IntegrityError propagates. ChangeRefused as ``submit_call``; nothing is kept then.
    """
    try:
        with unit_of_work() as session:
            return submit(session)
    except IntegrityError:
        with unit_of_work() as session:
            return submit(session)


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


def _location(call: Call) -> Location | None:
    if call.address is None and call.lat is None and call.lon is None:
        return None
    return Location(address=call.address, lat=call.lat, lon=call.lon)


def _lock_call(session: Session, call_id: str) -> Call:
    """The call's row, read fresh after locking it until the transaction ends; UnknownCall if none.

    The lock is taken by a write that changes nothing, which both databases serialise: PostgreSQL
    locks the row, SQLite takes its write lock (waiting out the busy timeout). Concurrent changes
    to one call therefore run one after the other, and each reads the revision the last left.
    """
    locked = session.exec(update(Call).where(col(Call.call_id) == call_id).values(revision=Call.revision))
    if locked.rowcount == 0:
        raise UnknownCall(call_id)
    call = session.get(Call, call_id, populate_existing=True)
    if call is None:  # deleted between the two statements: only possible outside a transaction
        raise UnknownCall(call_id)
    return call


def _refuse_if_closed(call: Call) -> None:
    if CallStatus(call.status) in _CLOSED:
        raise ChangeRefused(f"call {call.call_id} is {call.status}; it takes no more changes")


def _notes(session: Session, call_id: str) -> list[Note]:
    rows = session.exec(
        select(CallChange).where(CallChange.call_id == call_id, CallChange.change == "note")
    ).all()
    return [Note(text=row.narrative or "", at=row.at, revision=row.revision) for row in rows]


def _record_change(
    session: Session,
    call: Call,
    *,
    change: Literal["resent", "note"],
    at: datetime,
    text: str,
    outbox: Outbox,
) -> None:
    """Count the change as the call's next revision, keep it, put it on the timeline, stage ``CallUpdated``.

    ``call`` must be locked (``_lock_call``) and, for a resend, already hold the new version.
    ``text`` is the resent narrative or the note. ChangeRefused if the whole text grows too long.
    """
    call.revision = next_revision(call.revision)
    call.updated_at = utcnow()
    session.add(call)
    session.add(
        CallChange(
            call_id=call.call_id,
            revision=call.revision,
            change=change,
            narrative=text,
            call_type=call.call_type if change == "resent" else None,
            address=call.address if change == "resent" else None,
            lat=call.lat if change == "resent" else None,
            lon=call.lon if change == "resent" else None,
            at=at,
        )
    )
    session.add(
        TimelineEntry(
            call_id=call.call_id,
            status=_CHANGE_STEPS[change],
            at=at,
            details=json.dumps({"revision": call.revision, "change": change}),
        )
    )
    session.flush()
    whole_text = compose_call_text(call.narrative, _notes(session, call.call_id))
    if len(whole_text) > CALL_TEXT_MAX_CHARS:
        raise ChangeRefused(
            f"call {call.call_id} would hold more than {CALL_TEXT_MAX_CHARS} characters of text"
        )
    outbox.add(
        session,
        CallUpdated(
            call_id=UUID(call.call_id),
            cad_incident_id=call.cad_incident_id,
            revision=call.revision,
            change=change,
            narrative=whole_text,
            call_type=call.call_type,
            location=_location(call),
            received_at=call.received_at,
            updated_at=at,
        ),
    )


def resubmit_call(
    session: Session, *, call_id: str, submission: CallSubmission, outbox: Outbox
) -> Resubmission:
    """A repeat submission of a known incident: an update if narrative, call type or location differ.

    An unchanged repeat changes nothing (``updated`` False), whatever the call's status. A
    differing one replaces the call's narrative, call type and location, keeps the version as a
    ``resent`` change and stages ``CallUpdated`` (change ``resent``, the next revision).
    UnknownCall if there is no such call; ChangeRefused if it is resolved or cancelled.
    """
    call = _lock_call(session, call_id)
    stored = IncidentVersion(call.narrative or "", call.call_type, _location(call))
    sent = IncidentVersion(submission.narrative, submission.call_type, submission.location)
    if not changed_fields(stored, sent):
        return Resubmission(call=call, updated=False)
    _refuse_if_closed(call)
    location = submission.location
    call.narrative = submission.narrative
    call.call_type = submission.call_type
    call.address = location.address if location else None
    call.lat = location.lat if location else None
    call.lon = location.lon if location else None
    _record_change(session, call, change="resent", at=utcnow(), text=submission.narrative, outbox=outbox)
    return Resubmission(call=call, updated=True)


def add_note(session: Session, *, call_id: UUID, note: NoteSubmission, outbox: Outbox) -> Call:
    """Append a supplemental note as the call's next revision and stage ``CallUpdated`` (change ``note``).

    The note is timed at ``note.at`` (now when omitted). UnknownCall if there is no such call;
    ChangeRefused if it is resolved or cancelled or its whole text would grow too long.
    """
    call = _lock_call(session, str(call_id))
    _refuse_if_closed(call)
    _record_change(session, call, change="note", at=note.at or utcnow(), text=note.text, outbox=outbox)
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
    """The triage decision of one revision: a ``triaged`` step, and route, threat and priority.

    Every revision gets its step. Threat level and decision record come from the newest revision
    seen (an older revision arriving late changes none of them). Route and priority are triage's
    only until routing has routed the call: from then on they are what routing did (its
    ``CallRouted``), since routing may decline a de-escalation and keep the units it sent.
    """
    decision = event.decision
    call = _advance(
        session,
        event.call_id,
        CallStatus.TRIAGED,
        event.triaged_at,
        {
            "route": decision.route,
            "rule": decision.rule,
            "priority": decision.priority,
            "revision": event.revision,
        },
    )
    standing = precedence(event.revision, call.decided_revision, has_route=call.route is not None)
    if standing == "older":
        return
    routed = _PROGRESS[CallStatus(call.status)] >= _PROGRESS[CallStatus.QUEUED]
    if standing == "newer" and not routed:
        call.route = decision.route
        call.priority = decision.priority
    else:
        call.route = call.route or decision.route
        call.priority = call.priority or decision.priority
    call.threat_level = decision.threat_level
    call.decision = decision.model_dump_json()
    call.decided_revision = event.revision


def record_routed(session: Session, event: CallRouted) -> None:
    """Routing queued the call or assigned a unit; route and priority only from its newest revision.

    A re-routing (``reason`` re_triaged, override or backup) is a step of its own with its reason
    and revision; a unit it adds stands beside the first, which stays the call's assigned unit.
    A step that told the clinician team on the call to stage carries ``staging: true``; a
    dispatcher's override carries ``override_reason``, their reason from the fixed vocabulary
    (``OverrideReason``; their free-text notes stay with routing).
    """
    details: dict[str, Any] = {
        "route": event.route,
        "fallback_used": event.fallback_used,
        "reason": event.reason,
        "revision": event.revision,
    }
    if event.unit:
        details["unit"] = event.unit.model_dump(mode="json")
        details["distance_km"] = event.distance_km
    if event.staging:
        details["staging"] = True  # the clinician team on the call was told to stage
    if event.reason == RouteReason.OVERRIDE and event.override_reason is not None:
        details["override_reason"] = event.override_reason
    call = _advance(session, event.call_id, event.status, event.routed_at, details)
    # Routing of an older revision than the call's newest decision does not bring its route back.
    if precedence(event.revision, call.decided_revision, has_route=call.route is not None) != "older":
        call.route = event.route
        call.priority = event.priority
        call.decided_revision = event.revision
    if event.unit and (call.assigned_unit_id is None or event.reason == RouteReason.TRIAGED):
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
    location = _location(call)
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
        revision=call.revision,
        timeline=[_step(entry) for entry in entries],
    )


def _step(entry: TimelineEntry) -> TimelineStep:
    status = CallStatus(entry.status) if entry.status in _STATUSES else None
    return TimelineStep(step=entry.status, status=status, at=entry.at, **json.loads(entry.details))


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
