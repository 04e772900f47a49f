"""Retention: narratives and caller details are kept only as long as they are needed.

Decisions, routes, timelines and dispositions stay for insights; the health information in the
narrative, the caller's details and the raw event payloads that carried them are purged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import datetime

from dispatch_shared.db import transaction
from sqlalchemy import delete
from sqlalchemy.engine import Engine
from sqlmodel import Session, col, select

from intake.models import Call, IntakeOutbox, IntakeProcessedEvent


@dataclass(frozen=True)
class Purged:
    """What one retention pass removed."""

    calls: int
    events: int


def _without_excerpts(decision: str | None) -> str | None:
    """The decision record with the matched narrative excerpts removed; codes and spans stay."""
    if decision is None:
        return None
    record = json.loads(decision)
    for key in ("indicators", "negated"):
        for indicator in record.get(key, []):
            indicator["text"] = ""
    return json.dumps(record)


def purge_before(session: Session, cutoff: datetime) -> Purged:
    """Remove narratives, caller details, narrative excerpts and delivered payloads before ``cutoff``."""
    calls = session.exec(
        select(Call).where(
            col(Call.received_at) < cutoff, col(Call.narrative).is_not(None) | col(Call.caller).is_not(None)
        )
    ).all()
    for call in calls:
        call.narrative = None
        call.caller = None
        call.decision = _without_excerpts(call.decision)
        session.add(call)
    events = session.exec(
        delete(IntakeOutbox).where(
            col(IntakeOutbox.created_at) < cutoff, col(IntakeOutbox.sent_at).is_not(None)
        )
    )
    session.exec(delete(IntakeProcessedEvent).where(col(IntakeProcessedEvent.processed_at) < cutoff))
    return Purged(calls=len(calls), events=events.rowcount)


def purge(engine: Engine, cutoff: datetime) -> Purged:
    """One retention pass in its own transaction."""
    with transaction(engine) as session:
        return purge_before(session, cutoff)
