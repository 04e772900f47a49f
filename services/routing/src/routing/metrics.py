"""routing's metrics: the call timeline, outcomes reported by units, and the queue and roster now.

- Receipt to routed and to assigned (``dispatch_call_routed_seconds``,
  ``dispatch_call_assigned_seconds`` of ``dispatch_shared.metrics``) are observed from the rows
  themselves: a call row inserted is routed, and a call's ``assigned_at`` set where it had none is
  its first unit, whichever path assigned it (on arrival, from the queue when a unit was freed, or
  by a dispatcher's override). ``watch_call_timeline`` installs the listener; each observation is
  made when its transaction commits.
- Outcomes (``record_report``) are counted when a unit reports a call resolved.
- Queue and roster gauges come from ``RoutingState``, a collector that reports the last snapshot of
  routing's database (``refresh``), so every instance reports the same, right after a restart too.
  Among them, the units free for assignment now: available and on shift by the agency's rules
  (``routing.coverage.Duty``), which the roster's ``available`` count alone does not say.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from functools import partial
from typing import Any

from dispatch_shared.events import CallStatus, Route, UnitStatus, UnitType, utcnow
from dispatch_shared.metrics import (
    CALL_ASSIGNED_SECONDS,
    CALL_ROUTED_SECONDS,
    on_commit,
    seconds_between,
)
from prometheus_client import REGISTRY, Counter
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from sqlalchemy import event, func, inspect
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session, UOWTransaction
from sqlmodel import Session as ModelSession
from sqlmodel import col, select

from routing.coverage import Duty
from routing.insights import REFERRAL_DISPOSITIONS
from routing.models import RoutedCall, RoutingUnit, json_list

__all__ = [
    "CALLS_RESOLVED",
    "REFERRALS",
    "ROUTING_STATE",
    "USE_OF_FORCE",
    "RoutingState",
    "StateSnapshot",
    "read_state",
    "record_report",
    "watch_call_timeline",
]

CALLS_RESOLVED = Counter(
    "dispatch_calls_resolved_total",
    "Calls a unit reported resolved, by the route in force and the disposition.",
    ["route", "disposition"],
)
USE_OF_FORCE = Counter(
    "dispatch_use_of_force_total",
    "Resolved calls on which the unit reported force used, by route.",
    ["route"],
)
REFERRALS = Counter(
    "dispatch_referrals_total",
    "Resolved calls referred to services or transported voluntarily, by route.",
    ["route"],
)


def record_report(call: RoutedCall) -> None:
    """Count the outcome of a call a unit has just reported resolved (after its commit); else nothing."""
    if call.status != CallStatus.RESOLVED:
        return
    disposition = call.disposition or "none"
    CALLS_RESOLVED.labels(call.route, disposition).inc()
    if call.use_of_force:
        USE_OF_FORCE.labels(call.route).inc()
    if disposition in REFERRAL_DISPOSITIONS:
        REFERRALS.labels(call.route).inc()


def _first_assignment(call: RoutedCall) -> bool:
    """True when this flush gives ``call`` an ``assigned_at`` where it had none before."""
    history = inspect(call).attrs.assigned_at.history
    return bool(history.added) and history.added[0] is not None and not any(history.deleted)


def _note_timeline(session: Session, _flush: UOWTransaction) -> None:
    for row in session.new:
        if isinstance(row, RoutedCall):
            routed = seconds_between(row.received_at, row.routed_at)
            on_commit(session, partial(CALL_ROUTED_SECONDS.labels(row.route).observe, routed))
    for row in [*session.new, *session.dirty]:
        if isinstance(row, RoutedCall) and row.assigned_at is not None and _first_assignment(row):
            assigned = seconds_between(row.received_at, row.assigned_at)
            on_commit(session, partial(CALL_ASSIGNED_SECONDS.labels(row.route).observe, assigned))


def watch_call_timeline() -> None:
    """Observe receipt to routed and to assigned on every session's flush (idempotent, per process)."""
    if not event.contains(Session, "after_flush", _note_timeline):
        event.listen(Session, "after_flush", _note_timeline)


@dataclass(frozen=True)
class StateSnapshot:
    """routing's queue and roster at ``taken_at``: queued calls and the oldest one's queue time
    (``routed_at``) per route, units per (type, status), and units free for assignment per type
    (available and on shift at ``taken_at``)."""

    taken_at: datetime
    queued: dict[str, int]
    oldest_queued: dict[str, datetime]
    units: dict[tuple[str, str], int]
    free: dict[str, int]


def read_state(session: ModelSession, duty: Duty) -> StateSnapshot:
    """Read the queue and the roster: two grouped queries on indexed columns, and the available
    units' coverage, judged by ``duty`` (its service hours; zones are left out, since whether a
    zone holds a call depends on the call's place). Raises what the database driver raises."""
    queued = {route.value: 0 for route in Route}
    oldest: dict[str, datetime] = {}
    rows = session.exec(
        select(RoutedCall.route, func.count(), func.min(RoutedCall.routed_at))
        .where(col(RoutedCall.status) == CallStatus.QUEUED)
        .group_by(col(RoutedCall.route))
    ).all()
    for route, count, first in rows:
        queued[route] = count
        oldest[route] = _aware(first)
    units = {(kind.value, status.value): 0 for kind in UnitType for status in UnitStatus}
    for unit_type, status, count in session.exec(
        select(RoutingUnit.type, RoutingUnit.status, func.count()).group_by(
            col(RoutingUnit.type), col(RoutingUnit.status)
        )
    ).all():
        units[(unit_type, status)] = count
    taken_at = utcnow()
    free = {kind.value: 0 for kind in UnitType}
    for unit_type, hours, zones in session.exec(
        select(RoutingUnit.type, RoutingUnit.service_hours, RoutingUnit.zones).where(
            col(RoutingUnit.status) == UnitStatus.AVAILABLE
        )
    ).all():
        coverage = duty.coverage(UnitType(unit_type), json_list(hours), json_list(zones))
        if duty.excludes(coverage, at=taken_at, lat=None, lon=None) is None:
            free[unit_type] += 1
    return StateSnapshot(taken_at=taken_at, queued=queued, oldest_queued=oldest, units=units, free=free)


def _aware(value: Any) -> datetime:
    """``min()`` over a column bypasses its type on SQLite, which hands back naive UTC (or text)."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    if not isinstance(value, datetime):
        raise TypeError(f"not a time: {type(value).__name__}")
    return value if value.tzinfo is not None else value.replace(tzinfo=utcnow().tzinfo)


class RoutingState(Collector):
    """Reports ``dispatch_calls_queued{route}``, ``dispatch_queue_oldest_seconds{route}``,
    ``dispatch_units{type,status}`` and ``dispatch_units_free{type}`` from the last snapshot of
    routing's database.

    The snapshot is taken off the event loop (``refresh``, on a timer) because ``/metrics`` is
    served on it. Queue age is counted from the snapshot's oldest ``routed_at`` to the scrape, so
    it keeps growing between refreshes. While the database cannot be read there is no snapshot and
    the families have no series: unknown, rather than a stale queue.
    """

    def __init__(self) -> None:
        self._snapshot: StateSnapshot | None = None

    def refresh(self, engine: Engine, duty: Duty) -> None:
        """Take a new snapshot, judging shifts by ``duty`` (the service's own rules); on a database
        error forget the old one and re-raise."""
        try:
            with ModelSession(engine) as session:
                self._snapshot = read_state(session, duty)
        except Exception:
            self._snapshot = None
            raise

    def forget(self) -> None:
        """Drop the snapshot (the service is stopping)."""
        self._snapshot = None

    def describe(self) -> Iterator[Metric]:
        yield from self._families(None)

    def collect(self) -> Iterator[Metric]:
        yield from self._families(self._snapshot)

    @staticmethod
    def _families(snapshot: StateSnapshot | None) -> Iterator[Metric]:
        queued = GaugeMetricFamily(
            "dispatch_calls_queued",
            "Calls waiting in routing's queue for a unit, by route.",
            labels=["route"],
        )
        oldest = GaugeMetricFamily(
            "dispatch_queue_oldest_seconds",
            "Seconds the longest-waiting queued call of each route has waited since it was queued "
            "(its routed_at); 0 when none waits.",
            labels=["route"],
        )
        units = GaugeMetricFamily(
            "dispatch_units", "Units on the roster, by type and status.", labels=["type", "status"]
        )
        free = GaugeMetricFamily(
            "dispatch_units_free",
            "Units that could be sent now, by type: available and within their service hours "
            "(zones are not counted against them: that depends on the call's place).",
            labels=["type"],
        )
        if snapshot is not None:
            now = utcnow()
            for route, count in sorted(snapshot.queued.items()):
                queued.add_metric([route], count)
                since = snapshot.oldest_queued.get(route)
                oldest.add_metric([route], seconds_between(since, now) if since else 0.0)
            for (unit_type, status), count in sorted(snapshot.units.items()):
                units.add_metric([unit_type, status], count)
            for unit_type, count in sorted(snapshot.free.items()):
                free.add_metric([unit_type], count)
        yield from (queued, oldest, units, free)


ROUTING_STATE = RoutingState()
REGISTRY.register(ROUTING_STATE)
