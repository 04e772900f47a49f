"""Route a triaged call. Unit assignment is not built yet: every call is queued with its route."""

from __future__ import annotations

from dispatch_shared.events import CallRouted, CallStatus, CallTriaged, utcnow
from dispatch_shared.outbox import Outbox
from sqlmodel import Session

from routing.models import RoutedCall


def route_call(session: Session, *, call: CallTriaged, outbox: Outbox) -> None:
    """Record the call with its route and publish it as queued; a call seen before is left alone."""
    if session.get(RoutedCall, str(call.call_id)) is not None:
        return
    decision = call.decision
    routed = RoutedCall(
        call_id=str(call.call_id),
        route=decision.route,
        priority=decision.priority,
        status=CallStatus.QUEUED,
        clinician_followup=decision.clinician_followup,
        lat=call.location.lat if call.location else None,
        lon=call.location.lon if call.location else None,
        received_at=call.received_at,
    )
    session.add(routed)
    outbox.add(
        session,
        CallRouted(
            call_id=call.call_id,
            route=decision.route,
            priority=decision.priority,
            status=CallStatus.QUEUED,
            clinician_followup=decision.clinician_followup,
            routed_at=utcnow(),
        ),
    )
