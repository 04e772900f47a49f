"""A routed call's lifecycle (en route, on scene, resolved, cancelled) and the queries over calls.

A lifecycle update is applied with a conditional update on the status it was checked against:
when two updates of one call race, one applies and the other is re-checked against what won.
Closing a call frees all its units (the primary and any added on escalation), and each then takes
the most urgent queued call it can serve. Steps between (en route, on scene) move the primary
unit: the lifecycle endpoint takes no unit id, so an added unit stays ``dispatched`` until then.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

from dispatch_shared.errors import Conflict
from dispatch_shared.events import (
    CallStatus,
    CallStatusChanged,
    Disposition,
    OverrideReason,
    Route,
    UnitStatus,
    utcnow,
)
from dispatch_shared.outbox import Outbox
from sqlalchemy import ColumnElement, and_, func
from sqlmodel import Session, col, select, update
from sqlmodel.sql.expression import SelectOfScalar

from routing.assignment import FallbackChains
from routing.coverage import Duty
from routing.dispatch import (
    ANYTIME,
    UnknownCall,
    publish_unit,
    release_added_unit,
    take_dispatch_lock,
    take_next_call,
    units_on_call,
)
from routing.insights import CallChanges, CallOutcome, CrisisCall, DispatcherOverride
from routing.lifecycle import CLOSED, REPORTABLE, check_transition, unit_status_for
from routing.models import CallOverride, CallUnit, RoutedCall, RoutingUnit, UnservedCall
from routing.unserved import UnservedReason

__all__ = [
    "StatusReport",
    "UnknownCall",
    "added_units",
    "call_overrides",
    "crisis_calls",
    "get_call",
    "list_calls",
    "outcome_records",
    "report_status",
]

_TIMESTAMP = {
    CallStatus.EN_ROUTE: "en_route_at",
    CallStatus.ON_SCENE: "on_scene_at",
    CallStatus.RESOLVED: "resolved_at",
    CallStatus.CANCELLED: "cancelled_at",
}

# A racing update that keeps winning is re-checked this many times before giving up.
_ATTEMPTS = 5


class ConcurrentUpdate(Conflict):
    """The call kept changing under this update (409); the client may retry."""


@dataclass(frozen=True)
class StatusReport:
    """A lifecycle step reported by a unit or a dispatcher."""

    status: CallStatus
    disposition: Disposition | None = None
    use_of_force: bool | None = None
    notes: str | None = None


def get_call(session: Session, call_id: str) -> RoutedCall:
    """The call, or UnknownCall."""
    call = session.get(RoutedCall, call_id)
    if call is None:
        raise UnknownCall(call_id)
    return call


def _apply_step(session: Session, call: RoutedCall, report: StatusReport, at: datetime) -> bool:
    """Move the call if it still has the status it was checked against."""
    values: dict[str, object] = {
        "status": report.status,
        _TIMESTAMP[report.status]: at,
        "updated_at": at,
        "version": RoutedCall.version + 1,
    }
    if report.status in CLOSED:
        values |= {
            "disposition": report.disposition,
            "use_of_force": report.use_of_force,
            "awaiting_route": None,  # a closed call waits for nobody
        }
    if report.notes is not None:
        values["notes"] = report.notes
    result = session.exec(
        update(RoutedCall)
        .where(col(RoutedCall.call_id) == call.call_id, col(RoutedCall.status) == call.status)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return result.rowcount == 1


def _move_unit(
    session: Session, *, call: RoutedCall, chains: FallbackChains, outbox: Outbox, at: datetime, duty: Duty
) -> None:
    """Keep the primary unit in step with its call; a closed call frees every unit on it for the queue."""
    freed: list[RoutingUnit] = []
    if call.status in CLOSED:
        for added in units_on_call(session, call):
            unit = release_added_unit(session, call_id=call.call_id, added=added, outbox=outbox, at=at)
            freed.extend([unit] if unit is not None else [])
    freed.extend(_move_primary(session, call=call, outbox=outbox, at=at))
    for unit in freed:  # once all are free, so each sees the others' calls taken
        take_next_call(session, unit=unit, chains=chains, outbox=outbox, at=at, duty=duty)


def _move_primary(session: Session, *, call: RoutedCall, outbox: Outbox, at: datetime) -> list[RoutingUnit]:
    """Move the primary unit with its call; returns it when the call freed it."""
    if call.unit_id is None:
        return []
    status = unit_status_for(CallStatus(call.status))
    values: dict[str, object] = {"status": status, "updated_at": at, "version": RoutingUnit.version + 1}
    if status is UnitStatus.AVAILABLE:
        values |= {"current_call_id": None, "available_since": at}
    if call.status == CallStatus.ON_SCENE and call.lat is not None and call.lon is not None:
        values |= {"lat": call.lat, "lon": call.lon}  # the unit is where the call is now
    result = session.exec(
        update(RoutingUnit)
        .where(col(RoutingUnit.unit_id) == call.unit_id, col(RoutingUnit.current_call_id) == call.call_id)
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    if result.rowcount != 1:
        return []  # the unit was re-registered away from this call; nothing of ours to move
    unit = session.get(RoutingUnit, call.unit_id, populate_existing=True)
    assert unit is not None
    publish_unit(session, unit=unit, outbox=outbox, at=at)
    return [unit] if status is UnitStatus.AVAILABLE else []


def report_status(
    session: Session,
    *,
    call_id: str,
    report: StatusReport,
    chains: FallbackChains,
    outbox: Outbox,
    duty: Duty = ANYTIME,
) -> RoutedCall:
    """Apply a lifecycle step; raises UnknownCall, TransitionNotAllowed or ConcurrentUpdate."""
    if report.status not in REPORTABLE:
        raise ValueError(f"{report.status.value} is not a lifecycle step a unit reports")
    if report.status in CLOSED:
        take_dispatch_lock(session)  # a freed unit may take a queued call
    for _ in range(_ATTEMPTS):
        call = get_call(session, call_id)
        session.refresh(call)  # what is committed now, not what this session saw earlier
        check_transition(CallStatus(call.status), report.status)
        at = utcnow()
        if not _apply_step(session, call, report, at):
            continue  # another update won: re-check against what it left
        session.refresh(call)
        outbox.add(
            session,
            CallStatusChanged(
                call_id=UUID(call.call_id),
                status=report.status,
                unit_id=call.unit_id,
                disposition=report.disposition,
                use_of_force=report.use_of_force,
                notes=report.notes,
                changed_at=at,
            ),
        )
        _move_unit(session, call=call, chains=chains, outbox=outbox, at=at, duty=duty)
        return call
    raise ConcurrentUpdate(f"call {call_id} kept changing; try again")


def added_units(session: Session, call_ids: Sequence[str]) -> dict[str, list[CallUnit]]:
    """Units added to each of ``call_ids`` by escalations (released ones too), in the order sent."""
    if not call_ids:
        return {}
    rows = session.exec(
        select(CallUnit)
        .where(col(CallUnit.call_id).in_(list(call_ids)))
        .order_by(col(CallUnit.assigned_at), col(CallUnit.unit_id))
    ).all()
    found: dict[str, list[CallUnit]] = {}
    for row in rows:
        found.setdefault(row.call_id, []).append(row)
    return found


def call_overrides(session: Session, call_ids: Sequence[str]) -> dict[str, list[CallOverride]]:
    """Dispatchers' overrides of each of ``call_ids``, oldest first."""
    if not call_ids:
        return {}
    rows = session.exec(
        select(CallOverride)
        .where(col(CallOverride.call_id).in_(list(call_ids)))
        .order_by(col(CallOverride.overridden_at), col(CallOverride.id))
    ).all()
    found: dict[str, list[CallOverride]] = {}
    for row in rows:
        found.setdefault(row.call_id, []).append(row)
    return found


def list_calls(
    session: Session,
    *,
    statuses: Sequence[CallStatus] = (),
    route: Route | None = None,
    recent_first: bool = False,
    limit: int = 100,
    offset: int = 0,
) -> tuple[list[RoutedCall], int]:
    """Calls in dispatch order (most urgent, then oldest) or most recently updated first."""
    query = select(RoutedCall)
    if statuses:
        query = query.where(col(RoutedCall.status).in_(list(statuses)))
    if route is not None:
        query = query.where(col(RoutedCall.route) == route)
    total = session.exec(select(func.count()).select_from(query.subquery())).one()
    order = (
        (col(RoutedCall.updated_at).desc(), col(RoutedCall.call_id))
        if recent_first
        else (col(RoutedCall.priority), col(RoutedCall.received_at), col(RoutedCall.call_id))
    )
    calls = session.exec(query.order_by(*order).limit(limit).offset(offset)).all()
    return list(calls), int(total)


def _in_window(since: datetime, until: datetime) -> ColumnElement[bool]:
    return and_(col(RoutedCall.received_at) >= since, col(RoutedCall.received_at) < until)


def _units_added(session: Session, window: SelectOfScalar[str]) -> dict[str, tuple[int, int]]:
    """Per call in ``window`` with added units: (added by escalations, added as backup)."""
    rows = session.exec(
        select(CallUnit.call_id, func.count(), func.count(col(CallUnit.backup_reason)))
        .where(col(CallUnit.call_id).in_(window))
        .group_by(col(CallUnit.call_id))
    ).all()
    return {call_id: (int(total) - int(backup), int(backup)) for call_id, total, backup in rows}


def _overrides_of(session: Session, window: SelectOfScalar[str]) -> dict[str, list[DispatcherOverride]]:
    """Per overridden call in ``window``: its overrides, oldest first."""
    rows = session.exec(
        select(CallOverride.call_id, CallOverride.reason, CallOverride.from_route, CallOverride.to_route)
        .where(col(CallOverride.call_id).in_(window))
        .order_by(col(CallOverride.overridden_at), col(CallOverride.id))
    ).all()
    found: dict[str, list[DispatcherOverride]] = {}
    for call_id, reason, from_route, to_route in rows:
        found.setdefault(call_id, []).append(
            DispatcherOverride(OverrideReason(reason), Route(from_route), Route(to_route))
        )
    return found


def _escalations_recorded(session: Session, window: SelectOfScalar[str]) -> set[str]:
    """Calls in ``window`` recorded as escalated off a clinician route (``escalated_by_safety``)."""
    rows = session.exec(
        select(UnservedCall.call_id).where(
            col(UnservedCall.reason) == UnservedReason.ESCALATED_BY_SAFETY,
            col(UnservedCall.call_id).in_(window),
        )
    ).all()
    return set(rows)


def _changes(
    call: RoutedCall,
    units: tuple[int, int],
    overrides: Sequence[DispatcherOverride],
    escalation_recorded: bool,
) -> CallChanges:
    by_escalation, as_backup = units
    return CallChanges(
        units_added_by_escalation=by_escalation,
        escalation_awaited=call.awaiting_route is not None and call.awaiting_backup is None,
        escalation_recorded=escalation_recorded,
        staging=call.staging,
        units_added_as_backup=as_backup,
        backup_awaited=call.awaiting_backup is not None,  # kept when the call closes unfilled
        overrides=tuple(overrides),
    )


def outcome_records(session: Session, *, since: datetime, until: datetime) -> list[CallOutcome]:
    """What insights need of each call received in [since, until), with what changed it after triage.

    Four queries whatever the number of calls: the calls, then their added units, overrides and
    recorded escalations, each aggregated over the window's call ids.
    """
    calls = session.exec(select(RoutedCall).where(_in_window(since, until))).all()
    window = select(RoutedCall.call_id).where(_in_window(since, until))
    units = _units_added(session, window)
    overrides = _overrides_of(session, window)
    escalated = _escalations_recorded(session, window)
    return [
        CallOutcome(
            route=Route(call.route),
            status=CallStatus(call.status),
            received_at=call.received_at,
            assigned_at=call.assigned_at,
            on_scene_at=call.on_scene_at,
            resolved_at=call.resolved_at,
            disposition=Disposition(call.disposition) if call.disposition else None,
            use_of_force=call.use_of_force,
            fallback_used=call.fallback_used,
            changes=_changes(
                call,
                units.get(call.call_id, (0, 0)),
                overrides.get(call.call_id, ()),
                call.call_id in escalated,
            ),
        )
        for call in calls
    ]


def crisis_calls(session: Session, *, since: datetime, until: datetime) -> list[CrisisCall]:
    """Crisis calls (triage's behavioral flag) received in [since, until), with where they were."""
    calls = session.exec(select(RoutedCall).where(col(RoutedCall.crisis).is_(True), _in_window(since, until)))
    return [
        CrisisCall(
            route=Route(call.route),
            received_at=call.received_at,
            lat=call.lat,
            lon=call.lon,
            address=call.address,
        )
        for call in calls
    ]
