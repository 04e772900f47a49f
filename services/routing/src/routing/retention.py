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
from sqlalchemy import or_
from sqlmodel import Session, col, select

from routing.models import RoutedCall, RoutingOutbox, RoutingProcessedEvent


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
        call.redacted_as_of = call.updated_at
        session.add(call)
    return Purged(
        calls=len(calls),
        events=delete_delivered(session, RoutingOutbox, cutoff, limit),
        processed=prune_processed(session, RoutingProcessedEvent, cutoff, limit),
    )
