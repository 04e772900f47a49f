"""The HTTP contract of intake: what CAD systems send and what the ledger shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from dispatch_shared.events import AssignedUnit, CallStatus, Location, Route, ThreatLevel, utcnow
from dispatch_shared.text import CleanText
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationInfo, field_validator

NARRATIVE_MAX_CHARS = 10_000
NOTE_MAX_CHARS = 2_000
EARLIEST_RECEIVED_AT = datetime(2000, 1, 1, tzinfo=UTC)

CadIncidentId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[\x21-\x7e]+$")
]
# Incident ids of calls received as EIDO (``intake.eido``) start with this; CAD ids may not.
EIDO_INCIDENT_PREFIX = "eido:"
# The validation context under which a submission may carry an EIDO incident id.
FROM_EIDO = {"source": "eido"}


class Caller(BaseModel):
    """Who called, as CAD recorded it. Never logged; purged by retention."""

    model_config = ConfigDict(extra="forbid")

    name: Annotated[CleanText, Field(max_length=200)] | None = None
    phone: Annotated[CleanText, Field(max_length=40)] | None = None
    callback_number: Annotated[CleanText, Field(max_length=40)] | None = None


class CallSubmission(BaseModel):
    """A call posted by a CAD system. Needs a narrative, a call type, or both."""

    model_config = ConfigDict(extra="forbid")

    cad_incident_id: CadIncidentId = Field(
        description="CAD's own incident id. Reposting it unchanged is a no-op; reposting it with a "
        "different narrative, call type or location updates the call (the new version replaces the old)."
    )
    call_type: Annotated[CleanText, StringConstraints(strip_whitespace=True, max_length=200)] | None = Field(
        default=None, description="CAD call type, e.g. an APCO code such as SUICTHRT."
    )
    narrative: Annotated[CleanText, Field(max_length=NARRATIVE_MAX_CHARS)] = Field(
        default="",
        validate_default=True,
        description="What the caller describes, as typed by the call-taker.",
    )
    location: Location | None = None
    caller: Caller | None = None
    received_at: datetime | None = Field(default=None, description="When CAD received it; now if omitted.")

    @field_validator("cad_incident_id")
    @classmethod
    def _not_reserved(cls, cad_incident_id: str, info: ValidationInfo) -> str:
        if cad_incident_id.startswith(EIDO_INCIDENT_PREFIX) and info.context != FROM_EIDO:
            raise ValueError(
                f"cad_incident_id may not start with {EIDO_INCIDENT_PREFIX!r}: that prefix names "
                "incidents received as EIDO (POST /v1/eido)"
            )
        return cad_incident_id

    @field_validator("narrative")
    @classmethod
    def _has_something_to_triage(cls, narrative: str, info: ValidationInfo) -> str:
        # call_type is declared first, so it is already validated here.
        if not narrative.strip() and not info.data.get("call_type"):
            raise ValueError("a narrative is required when there is no call_type")
        return narrative

    @field_validator("received_at")
    @classmethod
    def _aware(cls, received_at: datetime | None) -> datetime | None:
        return _sane_time(received_at, "received_at")


def _sane_time(value: datetime | None, name: str) -> datetime | None:
    """``value`` if it is aware and within a sane window; ValueError naming ``name`` otherwise."""
    if value is None:
        return None
    if value.tzinfo is None:
        raise ValueError(f"{name} must include a timezone offset")
    # Within a sane window: outside it the time is a CAD error, and a far-future time would
    # also keep the text from ever being purged.
    if not EARLIEST_RECEIVED_AT <= value <= utcnow() + timedelta(hours=1):
        raise ValueError(f"{name} must be after 2000 and not in the future")
    return value


class NoteSubmission(BaseModel):
    """A supplemental note CAD appends to a call (the caller called back, the call-taker learned more)."""

    model_config = ConfigDict(extra="forbid")

    text: Annotated[
        CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=NOTE_MAX_CHARS)
    ]
    at: datetime | None = Field(default=None, description="When CAD added the note; now if omitted.")

    @field_validator("text")
    @classmethod
    def _not_blank(cls, text: str) -> str:
        if not text:
            raise ValueError("a note needs some text")
        return text

    @field_validator("at")
    @classmethod
    def _aware(cls, at: datetime | None) -> datetime | None:
        return _sane_time(at, "at")


class CallAccepted(BaseModel):
    """The answer to a submission or a note."""

    call_id: UUID
    status: CallStatus
    updated: bool = Field(
        default=False,
        description="True when this request changed a call intake already had (a differing resend or "
        "a note); false for a new call and for an unchanged repeat.",
    )
    revision: int = Field(
        default=1, ge=1, description="The call's revision now: 1 as first received, plus one per change."
    )


TimelineStepKind = Literal[
    "received",
    "triaged",
    "queued",
    "assigned",
    "en_route",
    "on_scene",
    "resolved",
    "cancelled",
    "updated",
    "note",
]


class TimelineStep(BaseModel):
    """One step of the call's lifecycle, or a change to the call.

    Lifecycle steps carry their ``status``. A change carries ``status`` null and ``step``
    ``updated`` (CAD resent the incident with changes) or ``note`` (a supplemental note), with
    ``revision`` and ``change`` among the details; the text itself is never in the timeline.
    ``triaged`` steps name the ``revision`` they decided.
    """

    model_config = ConfigDict(extra="allow")

    step: TimelineStepKind = Field(description="The lifecycle status reached, or 'updated' / 'note'.")
    status: CallStatus | None = Field(description="The lifecycle status reached; null for a change.")
    at: datetime


class LedgerRecord(BaseModel):
    """A call and where it stands."""

    call_id: UUID
    cad_incident_id: str
    status: CallStatus
    call_type: str | None
    location: Location | None
    received_at: datetime
    route: Route | None
    threat_level: ThreatLevel | None
    priority: int | None
    assigned_unit: AssignedUnit | None
    disposition: str | None
    decision: dict[str, Any] | None = Field(
        description="The triage decision of the newest revision decided, with its indicators."
    )
    revision: int = Field(description="The call's revision: 1 as first received, plus one per change.")
    timeline: list[TimelineStep]


class CallPage(BaseModel):
    """A page of calls, newest first."""

    items: list[LedgerRecord]
    total: int
    limit: int
    offset: int
