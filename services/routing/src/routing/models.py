"""routing's tables: the calls it routes, and the outbox and inbox of its events."""

from __future__ import annotations

from datetime import datetime

from dispatch_shared.consumer import ProcessedEventRecord
from dispatch_shared.db import UtcDateTime
from dispatch_shared.events import utcnow
from dispatch_shared.outbox import OutboxRecord
from sqlmodel import Field, SQLModel


class RoutedCall(SQLModel, table=True):
    """A triaged call routing is responsible for, from queue to resolution."""

    __tablename__ = "routing_calls"

    call_id: str = Field(primary_key=True, max_length=36)
    route: str = Field(max_length=20, index=True)
    priority: int
    status: str = Field(max_length=20, index=True)
    clinician_followup: bool = False
    lat: float | None = None
    lon: float | None = None
    received_at: datetime = Field(sa_type=UtcDateTime)
    routed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)


class RoutingOutbox(OutboxRecord, table=True):
    __tablename__ = "routing_outbox"


class RoutingProcessedEvent(ProcessedEventRecord, table=True):
    __tablename__ = "routing_processed_events"
