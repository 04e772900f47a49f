"""intake's retention pass: narratives, caller details and matched phrases leave the ledger.

The call's decision, route, timeline and disposition stay for insights; the narrative, the
caller's details, the text of every change (resent narratives and supplemental notes), every
EIDO CAD sent (kept for audit until then), the phrases triage matched (blanked in the stored
decision) and the delivered ``CallReceived`` and ``CallUpdated`` payloads that carried any of
them are purged. The pass runs through
``dispatch_shared.retention``.
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
from dispatch_shared.retention import purge as run_purge
from sqlalchemy import or_, update
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from intake.models import Call, CallChange, EidoDocument, IntakeOutbox, IntakeProcessedEvent

__all__ = ["Purged", "purge", "purge_before"]


def purge_before(session: Session, cutoff: datetime, limit: int = BATCH_ROWS) -> Purged:
    """Clear up to ``limit`` calls received before ``cutoff``, and their delivered payloads.

    A call is due until retention has cleared it as it stands now: a decision that arrives after
    its narrative was purged (a slow or replayed ``CallTriaged``) is blanked by the next pass, and
    so is a change (a resend, a note or another EIDO) made after it; retention counts from
    ``received_at``.
    """
    calls = session.exec(
        select(Call)
        .where(
            col(Call.received_at) < cutoff,
            or_(col(Call.redacted_as_of).is_(None), col(Call.updated_at) != col(Call.redacted_as_of)),
        )
        .limit(limit)
    ).all()
    due = [call.call_id for call in calls]
    if due:
        session.exec(update(CallChange).where(col(CallChange.call_id).in_(due)).values(narrative=None))
        session.exec(update(EidoDocument).where(col(EidoDocument.call_id).in_(due)).values(document=None))
    for call in calls:
        call.narrative = None
        call.caller = None
        call.decision = without_excerpts(call.decision)
        call.redacted_as_of = call.updated_at
        session.add(call)
    return Purged(
        calls=len(calls),
        events=delete_delivered(session, IntakeOutbox, cutoff, limit),
        processed=prune_processed(session, IntakeProcessedEvent, cutoff, limit),
    )


def purge(engine: Engine, cutoff: datetime) -> Purged:
    """Everything due before ``cutoff``, in bounded transactions; returns the totals."""
    return run_purge(engine, purge_before, cutoff)
