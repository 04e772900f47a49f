"""routing's retention pass: matched phrases and responders' notes leave its calls and its outbox.

A routed call keeps its route, priority, unit, timestamps, disposition and the decision's codes,
rule and policy version for insights; the matched text in its copy of the decision is blanked,
the notes units reported are cleared, and the delivered event payloads (status changes carry
the notes) are deleted. The pass runs through ``dispatch_shared.retention``.
"""

from __future__ import annotations

from datetime import datetime

from dispatch_shared.retention import (
    BATCH_ROWS,
    Purged,
    delete_delivered,
    prune_processed,
    without_excerpts,
)
from sqlalchemy import or_, update
from sqlmodel import Session, col, select

from routing.models import CallOverride, CallUnit, RoutedCall, RoutingOutbox, RoutingProcessedEvent

PURGED = "[purged]"
"""What stands in for free text retention cleared where the column must stay set."""


def purge_before(session: Session, cutoff: datetime, limit: int = BATCH_ROWS) -> Purged:
    """Clear up to ``limit`` calls received before ``cutoff``, and the delivered payloads written before it.

    A call is due until retention has cleared it as it stands now: notes reported after a purge
    (a call closed late) are cleared by the next pass.
    """
    calls = session.exec(
        select(RoutedCall)
        .where(
            col(RoutedCall.received_at) < cutoff,
            or_(
                col(RoutedCall.redacted_as_of).is_(None),
                col(RoutedCall.updated_at) != col(RoutedCall.redacted_as_of),
            ),
        )
        .limit(limit)
    ).all()
    for call in calls:
        call.decision = without_excerpts(call.decision)
        call.notes = None
        if call.awaiting_backup is not None:  # the wait stays; the field's words go
            call.awaiting_backup = PURGED
        call.redacted_as_of = call.updated_at
        session.add(call)
    cleared = [call.call_id for call in calls]
    if cleared:  # a dispatcher's override notes and the field's backup reasons are free text too
        session.exec(update(CallOverride).where(col(CallOverride.call_id).in_(cleared)).values(notes=None))
        session.exec(
            update(CallUnit)
            .where(col(CallUnit.call_id).in_(cleared), col(CallUnit.backup_reason).is_not(None))
            .values(backup_reason=PURGED)
        )
    return Purged(
        calls=len(calls),
        events=delete_delivered(session, RoutingOutbox, cutoff, limit),
        processed=prune_processed(session, RoutingProcessedEvent, cutoff, limit),
    )
