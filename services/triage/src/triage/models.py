"""triage's tables: one decision per call revision, and the outbox and inbox of its events."""

from __future__ import annotations

from datetime import datetime

from dispatch_shared.consumer import ProcessedEventRecord
from dispatch_shared.db import UtcDateTime
from dispatch_shared.events import utcnow
from dispatch_shared.outbox import OutboxRecord
from sqlmodel import Field, SQLModel


class Decision(SQLModel, table=True):
    """The decision triage made for one revision of a call; one per revision, whatever the redeliveries."""

    __tablename__ = "triage_decisions"

    call_id: str = Field(primary_key=True, max_length=36)
    revision: int = Field(default=1, primary_key=True, description="1 for CallReceived, then CallUpdated's.")
    route: str = Field(max_length=20, index=True)
    threat_level: str = Field(max_length=20)
    priority: int
    policy_version: str = Field(max_length=64)
    record: str = Field(description="The full decision record as JSON.")
    decided_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    redacted_at: datetime | None = Field(
        default=None,
        sa_type=UtcDateTime,
        description="When retention blanked the matched text in ``record``; None until then.",
    )


class TriageOutbox(OutboxRecord, table=True):
    __tablename__ = "triage_outbox"


class TriageProcessedEvent(ProcessedEventRecord, table=True):
    __tablename__ = "triage_processed_events"
