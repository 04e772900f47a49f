"""intake's tables: the call ledger, its timeline and changes, the EIDOs CAD sent, the outbox and inbox."""

from __future__ import annotations

from datetime import datetime

from dispatch_shared.consumer import ProcessedEventRecord
from dispatch_shared.db import UtcDateTime
from dispatch_shared.events import utcnow
from dispatch_shared.outbox import OutboxRecord
from sqlalchemy import Index
from sqlmodel import Field, SQLModel


class Call(SQLModel, table=True):
    """One call as CAD sent it, and where it stands now."""

    __tablename__ = "intake_calls"
    # The ledger is listed newest first, and retention finds calls by age.
    __table_args__ = (Index("ix_intake_calls_received_at", "received_at"),)

    call_id: str = Field(primary_key=True, max_length=36)
    cad_incident_id: str = Field(unique=True, max_length=64)
    narrative: str | None = Field(default=None, description="None once purged by retention.")
    call_type: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = None
    lon: float | None = None
    caller: str | None = Field(default=None, description="Caller details as JSON; purged by retention.")
    received_at: datetime = Field(sa_type=UtcDateTime)
    status: str = Field(default="received", max_length=20, index=True)
    route: str | None = Field(default=None, max_length=20, index=True)
    threat_level: str | None = Field(default=None, max_length=20)
    priority: int | None = None
    decision: str | None = Field(default=None, description="The triage decision record as JSON.")
    assigned_unit_id: str | None = Field(default=None, max_length=64)
    assigned_unit_type: str | None = Field(default=None, max_length=20)
    disposition: str | None = Field(default=None, max_length=40)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    redacted_as_of: datetime | None = Field(
        default=None,
        sa_type=UtcDateTime,
        description="``updated_at`` of the row when retention last cleared it; a later change (say, a "
        "decision arriving after the purge) makes the row due again.",
    )
    revision: int = Field(
        default=1, description="Versions of the call: 1 as first received, plus one per accepted change."
    )
    decided_revision: int | None = Field(
        default=None,
        description="The newest revision a triage or routing event has set route and priority from.",
    )


class CallChange(SQLModel, table=True):
    """One accepted change to a call: CAD resent it with changes, or added a supplemental note.

    A ``resent`` row keeps that version of the incident (narrative, call type, location); a
    ``note`` row keeps the note's text in ``narrative``. Retention clears ``narrative``. The
    primary key makes a revision number unique per call.
    """

    __tablename__ = "intake_call_changes"

    call_id: str = Field(foreign_key="intake_calls.call_id", primary_key=True, max_length=36)
    revision: int = Field(primary_key=True)
    change: str = Field(max_length=10, description="'resent' or 'note'.")
    narrative: str | None = Field(default=None, description="The resent narrative or the note; purgeable.")
    call_type: str | None = Field(default=None, max_length=200)
    address: str | None = Field(default=None, max_length=500)
    lat: float | None = None
    lon: float | None = None
    at: datetime = Field(sa_type=UtcDateTime, description="When CAD made the change (a note's ``at``).")


class EidoDocument(SQLModel, table=True):
    """One EIDO as CAD sent it (``POST /v1/eido``), kept for audit.

    ``document`` is the EIDO object as received (a notify message's wrapper left out), as JSON;
    retention clears it with the call's narrative. ``eido_id`` (the EIDO's ``$id``, an incident
    identifier rather than health information) stays, so an export names the same incident.
    """

    __tablename__ = "intake_eido_documents"

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="intake_calls.call_id", index=True, max_length=36)
    eido_id: str = Field(description="The EIDO's $id as sent.")
    received_at: datetime = Field(sa_type=UtcDateTime, description="When intake received it.")
    document: str | None = Field(default=None, description="The EIDO as JSON; None once purged.")


class TimelineEntry(SQLModel, table=True):
    """One step of a call's lifecycle, with the details that came with it."""

    __tablename__ = "intake_timeline"

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(foreign_key="intake_calls.call_id", index=True, max_length=36)
    status: str = Field(max_length=20, description="A CallStatus, or 'updated' / 'note' for a change.")
    at: datetime = Field(sa_type=UtcDateTime)
    details: str = Field(default="{}", description="JSON of what the event added.")


class IntakeOutbox(OutboxRecord, table=True):
    __tablename__ = "intake_outbox"


class IntakeProcessedEvent(ProcessedEventRecord, table=True):
    __tablename__ = "intake_processed_events"
