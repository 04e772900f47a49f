"""Retention: health information is kept only ``RETENTION_DAYS``, in every service.

A narrative (every version CAD sent), a supplemental note added to a call, the caller's
details, the phrases triage matched in a narrative, a responder's notes and the raw event
payloads that carried any of them are health information. Each service
describes how to clear them from its own tables as a *purge pass*; this module holds what the
passes share and runs them:

* ``without_excerpts`` blanks the matched text in a triage decision record and keeps the codes,
  spans, route, priority, rule and policy version that insights use;
* ``delete_delivered`` drops outbox rows that Kafka has acknowledged (never an undelivered one,
  whatever its age: the event must still go out);
* ``prune_processed`` drops old processed-event ids (they hold no payload, only ids);
* ``purge`` runs a pass in bounded transactions until nothing is due, and ``enforce_retention``
  runs ``purge`` periodically from a service's lifespan.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from dispatch_shared.consumer import ProcessedEventRecord
from dispatch_shared.db import transaction
from dispatch_shared.events import utcnow
from dispatch_shared.outbox import OutboxRecord
from dispatch_shared.periodic import every

log = logging.getLogger(__name__)

# Rows one transaction handles at most, so a first pass over a long history neither holds locks
# for long nor loads the whole table.
BATCH_ROWS = 500


@dataclass(frozen=True)
class Purged:
    """What a retention pass did; every count is a number of rows.

    ``calls``: rows (one per call) whose health information was cleared. ``events``: delivered
    outbox rows deleted. ``processed``: processed-event ids dropped.
    """

    calls: int = 0
    events: int = 0
    processed: int = 0

    def __add__(self, other: Purged) -> Purged:
        return Purged(
            calls=self.calls + other.calls,
            events=self.events + other.events,
            processed=self.processed + other.processed,
        )

    def reached(self, limit: int) -> bool:
        """Did any kind hit ``limit``, so that more rows may be due?"""
        return max(self.calls, self.events, self.processed) >= limit


PurgePass = Callable[[Session, datetime, int], Purged]
"""One service's pass: ``(session, cutoff, limit)``; clears at most ``limit`` rows of each kind
whose retention started before ``cutoff`` (aware UTC) and says how many."""


def without_excerpts(record: str | None) -> str | None:
    """A decision record (``TriageDecision`` as JSON) with the matched text of every indicator blanked.

    Fired and negated indicators keep family, code, span and source; the route, priority, rule,
    explanation (built from labels, never from the narrative) and policy version stay as they
    are. ``None`` stays ``None``. Raises ``ValueError`` if ``record`` is not JSON.
    """
    if record is None:
        return None
    decision = json.loads(record)
    for key in ("indicators", "negated"):
        for indicator in decision.get(key) or []:
            indicator["text"] = ""
    return json.dumps(decision)


def delete_delivered(session: Session, table: type[OutboxRecord], cutoff: datetime, limit: int) -> int:
    """Delete up to ``limit`` delivered outbox rows written before ``cutoff``; returns how many."""
    due = (
        select(table.id)
        .where(col(table.created_at) < cutoff, col(table.sent_at).is_not(None))
        .order_by(col(table.id))
        .limit(limit)
    )
    result = session.exec(delete(table).where(col(table.id).in_(due)))
    return int(result.rowcount)


def prune_processed(session: Session, table: type[ProcessedEventRecord], cutoff: datetime, limit: int) -> int:
    """Drop up to ``limit`` processed-event ids recorded before ``cutoff``; returns how many.

    An event that old is not redelivered by Kafka (its offsets were committed long ago), and the
    handlers are idempotent on their own rows besides.
    """
    due = select(table.event_id).where(col(table.processed_at) < cutoff).limit(limit)
    result = session.exec(delete(table).where(col(table.event_id).in_(due)))
    return int(result.rowcount)


def purge(engine: Engine, purge_pass: PurgePass, cutoff: datetime, *, batch: int = BATCH_ROWS) -> Purged:
    """Run ``purge_pass`` in transactions of at most ``batch`` rows of each kind until nothing is due.

    Returns the totals. A database error propagates; what earlier batches committed stays done.
    """
    total = Purged()
    while True:
        with transaction(engine) as session:
            done = purge_pass(session, cutoff, batch)
        total += done
        if not done.reached(batch):
            return total


async def enforce_retention(
    engine: Engine, purge_pass: PurgePass, *, retention_days: float, check_seconds: float
) -> None:
    """Purge what is older than ``retention_days`` now and every ``check_seconds``, until cancelled.

    A failed pass (say, the database restarting) is logged by error class only and retried at the
    next check. Counts are logged; the text that was cleared never is.
    """

    def one_pass() -> None:
        purged = purge(engine, purge_pass, utcnow() - timedelta(days=retention_days))
        if purged != Purged():
            log.info(
                "retention purge",
                extra={"calls": purged.calls, "events": purged.events, "processed": purged.processed},
            )

    await every(check_seconds, one_pass, name="retention purge")


def start_retention(
    engine: Engine, purge_pass: PurgePass, *, retention_days: float, check_seconds: float
) -> asyncio.Task[None]:
    """``enforce_retention`` as a background task of the running loop; cancel it on shutdown."""
    return asyncio.create_task(
        enforce_retention(engine, purge_pass, retention_days=retention_days, check_seconds=check_seconds),
        name="retention",
    )
