"""A call's lifecycle once routed: which steps may follow which, and what the unit is doing meanwhile."""

from __future__ import annotations

from dispatch_shared.errors import Conflict
from dispatch_shared.events import CallStatus, UnitStatus

__all__ = [
    "ALLOWED",
    "CLOSED",
    "REPORTABLE",
    "TransitionNotAllowed",
    "allowed_after",
    "check_transition",
    "unit_status_for",
]

# What a unit (or a dispatcher relaying its radio) may report next. Arriving without having
# reported "en route" happens in practice, so assigned -> on_scene is allowed. A call is resolved
# only from the scene; before that it is cancelled.
ALLOWED: dict[CallStatus, tuple[CallStatus, ...]] = {
    CallStatus.QUEUED: (CallStatus.CANCELLED,),
    CallStatus.ASSIGNED: (CallStatus.EN_ROUTE, CallStatus.ON_SCENE, CallStatus.CANCELLED),
    CallStatus.EN_ROUTE: (CallStatus.ON_SCENE, CallStatus.CANCELLED),
    CallStatus.ON_SCENE: (CallStatus.RESOLVED,),
    CallStatus.RESOLVED: (),
    CallStatus.CANCELLED: (),
}

REPORTABLE = (CallStatus.EN_ROUTE, CallStatus.ON_SCENE, CallStatus.RESOLVED, CallStatus.CANCELLED)
"""Statuses that come in through the lifecycle API (the others are routing's own)."""

CLOSED = frozenset({CallStatus.RESOLVED, CallStatus.CANCELLED})


class TransitionNotAllowed(Conflict):
    """The requested step cannot follow the call's current status (409 with ``allowed`` steps)."""

    def __init__(self, current: CallStatus, requested: CallStatus) -> None:
        self.current = current
        self.requested = requested
        steps = allowed_after(current)
        listed = ", ".join(steps) or "none (the call is closed)"
        super().__init__(
            f"a call cannot go from {current.value} to {requested.value}; allowed: {listed}",
            allowed=steps,
            current_status=current.value,
        )


def allowed_after(current: CallStatus) -> list[CallStatus]:
    """The steps that may follow ``current``."""
    return list(ALLOWED.get(current, ()))


def check_transition(current: CallStatus, requested: CallStatus) -> None:
    """Raise TransitionNotAllowed unless ``requested`` may follow ``current``."""
    if requested not in ALLOWED.get(current, ()):
        raise TransitionNotAllowed(current, requested)


def unit_status_for(call_status: CallStatus) -> UnitStatus:
    """What the assigned unit is doing while its call has ``call_status``."""
    return {
        CallStatus.ASSIGNED: UnitStatus.DISPATCHED,
        CallStatus.EN_ROUTE: UnitStatus.EN_ROUTE,
        CallStatus.ON_SCENE: UnitStatus.ON_SCENE,
    }.get(call_status, UnitStatus.AVAILABLE)
