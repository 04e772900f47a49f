"""The event contract: one pydantic model per event, the topic it travels on, and its CloudEvents type.

Every service publishes and consumes these models and nothing else; tests decode real Kafka
messages with them. Topic names are versioned: a breaking change gets a new ``.vN`` topic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from dispatch_shared.text import CleanText


def utcnow() -> datetime:
    """Timezone-aware now, the only clock events use."""
    return datetime.now(UTC)


class Topic(StrEnum):
    """Kafka topics, fixed by the architecture; dead letters go to ``<topic>.dlq``."""

    CALLS_RECEIVED = "dispatch.calls.received.v1"
    CALLS_UPDATED = "dispatch.calls.updated.v1"
    CALLS_TRIAGED = "dispatch.calls.triaged.v1"
    CALLS_ROUTED = "dispatch.calls.routed.v1"
    CALLS_STATUS = "dispatch.calls.status.v1"
    UNITS_STATUS = "dispatch.units.status.v1"


def dead_letter_topic(topic: str) -> str:
    """The dead-letter topic for ``topic``."""
    return f"{topic}.dlq"


class Route(StrEnum):
    """Which kind of response goes."""

    CLINICIAN_ONLY = "clinician_only"
    CO_RESPONSE = "co_response"
    POLICE = "police"


class ThreatLevel(StrEnum):
    """Risk to others, from the safety indicators (ROUTING_POLICY threat table)."""

    NONE = "none"
    ELEVATED = "elevated"
    HIGH = "high"
    IMMINENT = "imminent"


class IndicatorFamily(StrEnum):
    """Behavioral (crisis or welfare), safety (risk to others, crime) or medical."""

    BEHAVIORAL = "B"
    SAFETY = "S"
    MEDICAL = "M"


class UnitType(StrEnum):
    """Kinds of unit the roster holds; each route is served by one of them first."""

    POLICE = "police"
    CO_RESPONSE = "co_response"
    CLINICIAN = "clinician"


class UnitStatus(StrEnum):
    """Where a unit is in its work."""

    AVAILABLE = "available"
    DISPATCHED = "dispatched"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    OUT_OF_SERVICE = "out_of_service"


class CallStatus(StrEnum):
    """A call's place in its lifecycle, as the ledger shows it."""

    RECEIVED = "received"
    TRIAGED = "triaged"
    QUEUED = "queued"
    ASSIGNED = "assigned"
    EN_ROUTE = "en_route"
    ON_SCENE = "on_scene"
    RESOLVED = "resolved"
    CANCELLED = "cancelled"


class RouteReason(StrEnum):
    """Why routing (re)routed a call: its first decision, a new revision, a dispatcher, the field."""

    TRIAGED = "triaged"
    RE_TRIAGED = "re_triaged"
    OVERRIDE = "override"
    BACKUP = "backup"


class OverrideReason(StrEnum):
    """Why a dispatcher overruled the system: a fixed vocabulary, so overrides can be audited by reason."""

    CALLER_HISTORY = "caller_history"
    OFFICER_SAFETY = "officer_safety"
    CLINICIAN_REQUEST = "clinician_request"
    NO_UNIT_OF_TYPE = "no_unit_of_type"
    DISPATCHER_JUDGMENT = "dispatcher_judgment"
    OTHER = "other"


class Disposition(StrEnum):
    """How a call ended (APCO-style vocabulary)."""

    REPORT_TAKEN = "report_taken"
    NO_REPORT = "no_report"
    ARREST = "arrest"
    GONE_ON_ARRIVAL = "gone_on_arrival"
    REFERRED_TO_SERVICES = "referred_to_services"
    TRANSPORTED_VOLUNTARY = "transported_voluntary"
    TRANSPORTED_INVOLUNTARY = "transported_involuntary"
    RESOLVED_ON_SCENE = "resolved_on_scene"
    REFUSED_SERVICES = "refused_services"
    UNFOUNDED = "unfounded"


Latitude = Annotated[float, Field(ge=-90, le=90)]
Longitude = Annotated[float, Field(ge=-180, le=180)]


class Location(BaseModel):
    """Where the call is; coordinates are WGS84 degrees."""

    model_config = ConfigDict(extra="forbid")

    address: Annotated[CleanText, Field(max_length=500)] | None = None
    lat: Latitude | None = None
    lon: Longitude | None = None


class Indicator(BaseModel):
    """One indicator that fired (or was negated): what family, which code, what text matched where."""

    family: IndicatorFamily
    code: str
    text: str
    span: tuple[int, int]
    source: Literal["narrative", "call_type"] = Field(
        default="narrative", description="'narrative' or 'call_type'"
    )


class TriageDecision(BaseModel):
    """The explained decision record of ROUTING_POLICY.md."""

    route: Route
    threat_level: ThreatLevel
    crisis: bool
    ems_required: bool
    clinician_followup: bool
    needs_review: bool
    priority: Annotated[int, Field(ge=1, le=4)]
    indicators: list[Indicator]
    negated: list[Indicator]
    rule: str
    explanation: str
    policy_version: str
    language: Annotated[str, Field(pattern=r"^(?:[a-z]{2}|und)$")] = Field(
        default="und",
        description="ISO 639-1 code (lower case) of the narrative's main language, or 'und' when unknown",
    )
    readable_share: Annotated[float, Field(ge=0, le=1)] = Field(
        default=1.0, description="Share of the narrative's words in languages the policy covers"
    )


class AssignedUnit(BaseModel):
    """The unit sent to a call."""

    unit_id: str
    type: UnitType
    name: str | None = None


class Event(BaseModel):
    """Base of every event: the topic it belongs to, its CloudEvents type and its Kafka key."""

    topic: ClassVar[Topic]
    ce_type: ClassVar[str]

    def key(self) -> str:
        """The Kafka message key: the call id (unit id for unit events) so one call stays in order."""
        return str(self.call_id)  # type: ignore[attr-defined]


class CallReceived(Event):
    """A CAD system handed us a call."""

    topic = Topic.CALLS_RECEIVED
    ce_type = "org.dispatch.call.received.v1"

    call_id: UUID
    cad_incident_id: str
    narrative: str
    call_type: str | None = None
    location: Location | None = None
    received_at: datetime


class CallUpdated(Event):
    """A CAD system resent an incident with changes, or appended a supplemental note.

    ``narrative`` is the whole call as triage must read it now: the latest narrative (CAD resends
    the whole incident, so a resent narrative replaces the earlier one), then every note in time
    order, one per line. ``revision`` counts the versions of
    the call: 1 is the ``CallReceived``, so an update is 2 or more.
    """

    topic = Topic.CALLS_UPDATED
    ce_type = "org.dispatch.call.updated.v1"

    call_id: UUID
    cad_incident_id: str
    revision: Annotated[int, Field(ge=2)]
    change: Literal["resent", "note"]
    narrative: str
    call_type: str | None = None
    location: Location | None = None
    received_at: datetime
    updated_at: datetime


class CallTriaged(Event):
    """Triage decided which response a call needs, and why."""

    topic = Topic.CALLS_TRIAGED
    ce_type = "org.dispatch.call.triaged.v1"

    call_id: UUID
    decision: TriageDecision
    location: Location | None = None
    received_at: datetime
    triaged_at: datetime
    revision: Annotated[int, Field(ge=1)] = Field(
        default=1, description="The call version decided: 1 for the first, then one per CallUpdated."
    )


class CallRouted(Event):
    """Routing assigned a unit to a call, or queued it when none could serve."""

    topic = Topic.CALLS_ROUTED
    ce_type = "org.dispatch.call.routed.v1"

    call_id: UUID
    route: Route
    priority: Annotated[int, Field(ge=1, le=4)]
    status: Literal[CallStatus.ASSIGNED, CallStatus.QUEUED] = Field(description="'assigned' or 'queued'")
    unit: AssignedUnit | None = None
    fallback_used: bool = False
    clinician_followup: bool = False
    distance_km: float | None = None
    routed_at: datetime
    reason: RouteReason = RouteReason.TRIAGED
    override_reason: OverrideReason | None = Field(
        default=None, description="The dispatcher's reason when ``reason`` is 'override'."
    )
    revision: Annotated[int, Field(ge=1)] = Field(default=1, description="The triage revision routed.")


class CallStatusChanged(Event):
    """A call moved through its lifecycle (en route, on scene, resolved, cancelled)."""

    topic = Topic.CALLS_STATUS
    ce_type = "org.dispatch.call.status.v1"

    call_id: UUID
    status: Literal[CallStatus.EN_ROUTE, CallStatus.ON_SCENE, CallStatus.RESOLVED, CallStatus.CANCELLED]
    unit_id: str | None = None
    disposition: Disposition | None = None
    use_of_force: bool | None = None
    notes: str | None = None
    changed_at: datetime


class UnitStatusChanged(Event):
    """A unit was registered, moved or changed status."""

    topic = Topic.UNITS_STATUS
    ce_type = "org.dispatch.unit.status.v1"

    unit_id: str
    type: UnitType
    status: UnitStatus
    name: str
    lat: Latitude | None = None
    lon: Longitude | None = None
    call_id: UUID | None = None
    changed_at: datetime

    def key(self) -> str:
        return self.unit_id


EVENT_TYPES: dict[str, type[Event]] = {
    cls.ce_type: cls
    for cls in (CallReceived, CallUpdated, CallTriaged, CallRouted, CallStatusChanged, UnitStatusChanged)
}
