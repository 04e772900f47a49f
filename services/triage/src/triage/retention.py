"""triage's retention pass: the phrases matched in narratives leave its decisions and its outbox.

A decision keeps its route, threat level, priority, rule, indicator codes and spans and policy
version for insights; the matched text in its record is blanked, and the delivered
``CallTriaged`` payloads that carried it are deleted. The pass runs through
``dispatch_shared.retention``.
"""

from __future__ import annotations

from datetime import datetime

from dispatch_shared.events import utcnow
from dispatch_shared.retention import (
    BATCH_ROWS,
    Purged,
    delete_delivered,
    prune_processed,
    without_excerpts,
)
from sqlmodel import Session, col, select

from triage.models import Decision, TriageOutbox, TriageProcessedEvent


def purge_before(session: Session, cutoff: datetime, limit: int = BATCH_ROWS) -> Purged:
    """Blank the matched text of up to ``limit`` decisions made before ``cutoff``; drop delivered payloads.

    A decision (one per call revision) is written once and never changed, so one redaction is final.
    """
    decisions = session.exec(
        select(Decision)
        .where(col(Decision.decided_at) < cutoff, col(Decision.redacted_at).is_(None))
        .limit(limit)
    ).all()
    now = utcnow()
    for decision in decisions:
        decision.record = without_excerpts(decision.record) or decision.record
        decision.redacted_at = now
        session.add(decision)
    return Purged(
        calls=len(decisions),
        events=delete_delivered(session, TriageOutbox, cutoff, limit),
        processed=prune_processed(session, TriageProcessedEvent, cutoff, limit),
    )
