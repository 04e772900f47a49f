"""The HTTP contract of intake: what CAD systems send and what the ledger shows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal
from uuid import UUID

from dispatch_shared.events import AssignedUnit, CallStatus, Location, Route, ThreatLevel, utcnow
from dispatch_shared.paging import Page
from dispatch_shared.text import CleanText
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    field_validator,
)

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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "Dana Reyes", "phone": "+1 206 555 0142"}]},
    )

    name: Annotated[CleanText, Field(max_length=200)] | None = Field(
        default=None, description="The caller's name, up to 200 characters."
    )
    phone: Annotated[CleanText, Field(max_length=40)] | None = Field(
        default=None, description="The number the call came from, as CAD shows it (up to 40 characters)."
    )
    callback_number: Annotated[CleanText, Field(max_length=40)] | None = Field(
        default=None, description="A number to call back, if different (up to 40 characters)."
    )


class CallSubmission(BaseModel):
    """A call posted by a CAD system. Needs a narrative, a call type, or both."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "cad_incident_id": "SEA-2026-000123",
                    "call_type": "WELFARE",
                    "narrative": "Caller says her neighbor is pacing in the street shouting at cars, "
                    "no weapons seen.",
                    "location": {"address": "1st Ave & Pike St, Seattle", "lat": 47.6097, "lon": -122.3422},
                    "received_at": "2026-03-01T14:05:00-08:00",
                }
            ]
        },
    )

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
        description=f"What the caller describes, as typed by the call-taker (up to {NARRATIVE_MAX_CHARS:,} "
        "characters). Read by triage; never logged.",
    )
    location: Location | None = Field(
        default=None, description="Where the call is: address and/or WGS84 point."
    )
    caller: Caller | None = Field(
        default=None, description="Who called; kept for the ledger, never sent to triage or logged."
    )
    received_at: datetime | None = Field(
        default=None,
        description="When CAD received it, with a timezone offset, after 2000 and not in the future; "
        "now if omitted.",
    )

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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [{"text": "Caller called back: he now has a bat.", "at": "2026-03-01T14:09:30-08:00"}]
        },
    )

    text: Annotated[
        CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=NOTE_MAX_CHARS)
    ] = Field(description=f"The note, 1 to {NOTE_MAX_CHARS:,} characters. Read by triage; never logged.")
    at: datetime | None = Field(
        default=None, description="When CAD added the note, with a timezone offset; now if omitted."
    )

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "call_id": "3f2c1e4a-8b7d-4c1e-9f3a-2b6d8e0c5a71",
                    "status": "received",
                    "updated": False,
                    "revision": 1,
                }
            ]
        }
    )

    call_id: UUID = Field(description="intake's id for the call: use it in every later request.")
    status: CallStatus = Field(description="Where the call stands now in its lifecycle.")
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

    model_config = ConfigDict(
        extra="allow",
        json_schema_extra={
            "examples": [
                {"step": "triaged", "status": "triaged", "at": "2026-03-01T22:05:01Z", "revision": 1},
                {
                    "step": "note",
                    "status": None,
                    "at": "2026-03-01T22:09:30Z",
                    "revision": 2,
                    "change": "note",
                },
            ]
        },
    )

    step: TimelineStepKind = Field(description="The lifecycle status reached, or 'updated' / 'note'.")
    status: CallStatus | None = Field(description="The lifecycle status reached; null for a change.")
    at: datetime = Field(description="When it happened (ISO 8601, UTC).")


_LEDGER_EXAMPLE: dict[str, JsonValue] = {
    "call_id": "3f2c1e4a-8b7d-4c1e-9f3a-2b6d8e0c5a71",
    "cad_incident_id": "SEA-2026-000123",
    "status": "assigned",
    "call_type": "WELFARE",
    "location": {"address": "1st Ave & Pike St, Seattle", "lat": 47.6097, "lon": -122.3422},
    "received_at": "2026-03-01T22:05:00Z",
    "route": "clinician_only",
    "threat_level": "none",
    "priority": 3,
    "assigned_unit": {"unit_id": "CL-12", "type": "clinician", "name": "Clinician team 12"},
    "disposition": None,
    "decision": {"route": "clinician_only", "rule": "R3_behavioral_no_threat", "priority": 3},
    "revision": 1,
    "timeline": [
        {"step": "received", "status": "received", "at": "2026-03-01T22:05:00Z"},
        {"step": "triaged", "status": "triaged", "at": "2026-03-01T22:05:01Z", "revision": 1},
        {"step": "assigned", "status": "assigned", "at": "2026-03-01T22:05:01Z"},
    ],
}


class LedgerRecord(BaseModel):
    """A call and where it stands."""

    model_config = ConfigDict(json_schema_extra={"examples": [_LEDGER_EXAMPLE]})

    call_id: UUID = Field(description="intake's id for the call.")
    cad_incident_id: str = Field(description="The CAD system's incident id (``eido:<$id>`` for an EIDO).")
    status: CallStatus = Field(description="Where the call stands in its lifecycle.")
    call_type: str | None = Field(description="CAD call type, e.g. SUICTHRT; null if none was given.")
    location: Location | None = Field(description="Where the call is; null if CAD gave no location.")
    received_at: datetime = Field(description="When CAD received the call.")
    route: Route | None = Field(description="The route of the newest decision; null until triaged.")
    threat_level: ThreatLevel | None = Field(
        description="none, elevated, high or imminent; null until triaged."
    )
    priority: int | None = Field(description="1 (most urgent) to 4; null until triaged.")
    assigned_unit: AssignedUnit | None = Field(description="The unit routing sent; null until assigned.")
    disposition: str | None = Field(description="How the call ended (a Disposition value); null while open.")
    decision: dict[str, Any] | None = Field(
        description="The triage decision of the newest revision decided, with its indicators."
    )
    revision: int = Field(description="The call's revision: 1 as first received, plus one per change.")
    timeline: list[TimelineStep] = Field(description="Every step and change, oldest first.")


class CallPage(Page[LedgerRecord]):
    """A page of calls, newest first."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_LEDGER_EXAMPLE], "total": 1, "limit": 50, "offset": 0}]}
    )
