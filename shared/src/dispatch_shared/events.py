"""The event contract: one pydantic model per event, the topic it travels on, and its CloudEvents type.

Every service publishes and consumes these models and nothing else; tests decode real Kafka
messages with them. Topic names are versioned: a breaking change gets a new ``.vN`` topic.
"""

from __future__ import annotations

from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field, JsonValue

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
    """Risk to others, from the safety indicators (docs/triage-policy.md, "Threat level")."""

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

    address: Annotated[CleanText, Field(max_length=500)] | None = Field(
        default=None, description="Street address or place as CAD gave it, up to 500 characters."
    )
    lat: Latitude | None = Field(default=None, description="Latitude, WGS84 degrees (-90 to 90).")
    lon: Longitude | None = Field(default=None, description="Longitude, WGS84 degrees (-180 to 180).")


class Indicator(BaseModel):
    """One indicator that fired (or was negated): what family, which code, what text matched where."""

    family: IndicatorFamily = Field(
        description="B behavioral (crisis or welfare), S safety (risk to others, crime) or M medical."
    )
    code: str = Field(
        description="The indicator from the policy lexicon, e.g. 'suicidal_ideation', 'weapon', "
        "'not_breathing'."
    )
    text: str = Field(description="The words that matched, as written in the source.")
    span: tuple[int, int] = Field(
        description="Start and end character offsets (end exclusive) of ``text`` in its source."
    )
    source: Literal["narrative", "call_type"] = Field(
        default="narrative", description="'narrative' or 'call_type'"
    )


LANGUAGE_NOT_COVERED_RULE = "R0_language_not_covered"
"""``TriageDecision.rule`` for a narrative in a language the policy does not cover: it is not read,
the decision rests on the call type and the call is held for review (docs/triage-policy.md)."""

PARTLY_READ_SHARE = 0.8
"""Below this ``TriageDecision.readable_share`` (0 to 1), a narrative read only in part is decided
on what was read and held for review: the unread part (another language, symbols) may say more."""


class TriageDecision(BaseModel):
    """The explained decision record of the triage policy (docs/triage-policy.md)."""

    route: Route = Field(description="The response that goes: clinician_only, co_response or police.")
    threat_level: ThreatLevel = Field(
        description="Risk to others from the safety indicators: none, elevated, high or imminent."
    )
    crisis: bool = Field(description="A behavioral (B) indicator fired: a behavioral health crisis.")
    ems_required: bool = Field(
        description="A medical (M) indicator fired: EMS is needed, whatever the route."
    )
    clinician_followup: bool = Field(
        description="Police go first (imminent threat) but a behavioral crisis also fired: a clinician "
        "follows up."
    )
    needs_review: bool = Field(
        description="A person should check the decision: nothing behavioral was described, the "
        "narrative was empty, or its language is not covered."
    )
    priority: Annotated[int, Field(ge=1, le=4)] = Field(description="1 (most urgent) to 4.")
    indicators: list[Indicator] = Field(description="Indicators that fired, in text order.")
    negated: list[Indicator] = Field(
        description="Indicators found but negated or in the past ('denies a weapon'); they decide nothing."
    )
    rule: str = Field(description="The route rule that fired, e.g. 'R2_behavioral_with_threat'.")
    explanation: str = Field(description="One plain sentence saying why this route.")
    policy_version: str = Field(description="The version of the policy and lexicons that decided.")
    language: Annotated[str, Field(pattern=r"^(?:[a-z]{2}|und)$")] = Field(
        default="und",
        description="ISO 639-1 code (lower case) of the narrative's main language, or 'und' when unknown",
    )
    readable_share: Annotated[float, Field(ge=0, le=1)] = Field(
        default=1.0, description="Share of the narrative's words in languages the policy covers"
    )


TRIAGE_DECISION_EXAMPLE: dict[str, JsonValue] = {
    "route": "co_response",
    "threat_level": "elevated",
    "crisis": True,
    "ems_required": False,
    "clinician_followup": False,
    "needs_review": False,
    "priority": 2,
    "indicators": [
        {
            "family": "B",
            "code": "suicidal_ideation",
            "text": "talking about killing himself",
            "span": [27, 56],
            "source": "narrative",
        },
        {"family": "S", "code": "weapon", "text": "knife", "span": [67, 72], "source": "narrative"},
    ],
    "negated": [],
    "rule": "R2_behavioral_with_threat",
    "explanation": "Behavioral indicators (suicidal ideation) with elevated safety risk (weapon present "
    "or possibly present): co-response team.",
    "policy_version": "2025.4.0+es.2026.5.0",
    "language": "en",
    "readable_share": 1.0,
}
"""A ``TriageDecision`` as JSON, for API documentation (kept out of the model's schema, which the
contract snapshots pin)."""


class AssignedUnit(BaseModel):
    """The unit sent to a call."""

    unit_id: str = Field(description="The agency's unit id, e.g. 'CL-12'.")
    type: UnitType = Field(description="police, co_response or clinician.")
    name: str | None = Field(default=None, description="The unit's display name, when known.")


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

    call_id: UUID = Field(description="intake's id for the call; the message key.")
    cad_incident_id: str = Field(description="The CAD system's own incident id.")
    narrative: str = Field(description="What the caller described, as the call-taker typed it.")
    call_type: str | None = Field(
        default=None, description="CAD call type, e.g. an APCO code such as SUICTHRT."
    )
    location: Location | None = Field(default=None, description="Where the call is, when CAD gave it.")
    received_at: datetime = Field(description="When CAD received the call (ISO 8601 with offset).")


class CallUpdated(Event):
    """A CAD system resent an incident with changes, or appended a supplemental note.

    ``narrative`` is the whole call as triage must read it now: the latest narrative (CAD resends
    the whole incident, so a resent narrative replaces the earlier one), then every note in time
    order, one per line. ``revision`` counts the versions of
    the call: 1 is the ``CallReceived``, so an update is 2 or more.
    """

    topic = Topic.CALLS_UPDATED
    ce_type = "org.dispatch.call.updated.v1"

    call_id: UUID = Field(description="intake's id for the call; the message key.")
    cad_incident_id: str = Field(description="The CAD system's own incident id.")
    revision: Annotated[int, Field(ge=2)] = Field(description="This version of the call: 2 or more.")
    change: Literal["resent", "note"] = Field(
        description="'resent': CAD resent the incident with changes; 'note': a supplemental note."
    )
    narrative: str = Field(
        description="The whole call text: the latest narrative, then every note, one per line."
    )
    call_type: str | None = Field(default=None, description="CAD call type now, e.g. SUICTHRT.")
    location: Location | None = Field(default=None, description="Where the call is now, when known.")
    received_at: datetime = Field(description="When CAD first received the call.")
    updated_at: datetime = Field(description="When this change was made.")


class CallTriaged(Event):
    """Triage decided which response a call needs, and why."""

    topic = Topic.CALLS_TRIAGED
    ce_type = "org.dispatch.call.triaged.v1"

    call_id: UUID = Field(description="The call decided; the message key.")
    decision: TriageDecision = Field(description="The explained decision record (docs/triage-policy.md).")
    location: Location | None = Field(default=None, description="Where the call is, for routing.")
    received_at: datetime = Field(description="When CAD received the call.")
    triaged_at: datetime = Field(description="When triage decided.")
    revision: Annotated[int, Field(ge=1)] = Field(
        default=1, description="The call version decided: 1 for the first, then one per CallUpdated."
    )


class CallRouted(Event):
    """Routing assigned a unit to a call, or queued it when none could serve."""

    topic = Topic.CALLS_ROUTED
    ce_type = "org.dispatch.call.routed.v1"

    call_id: UUID = Field(description="The call routed; the message key.")
    route: Route = Field(description="The route in force: clinician_only, co_response or police.")
    priority: Annotated[int, Field(ge=1, le=4)] = Field(description="1 (most urgent) to 4.")
    status: Literal[CallStatus.ASSIGNED, CallStatus.QUEUED] = Field(description="'assigned' or 'queued'")
    unit: AssignedUnit | None = Field(default=None, description="The unit sent; null while queued.")
    fallback_used: bool = Field(
        default=False, description="The unit is not the first type of the route's fallback chain."
    )
    clinician_followup: bool = Field(default=False, description="A clinician follows up after police.")
    distance_km: float | None = Field(
        default=None, description="Great-circle distance from the unit to the call, km; null if unknown."
    )
    routed_at: datetime = Field(description="When routing decided.")
    reason: RouteReason = Field(
        default=RouteReason.TRIAGED,
        description="Why: triaged (first decision), re_triaged (a new revision), override (a "
        "dispatcher) or backup (the field asked).",
    )
    override_reason: OverrideReason | None = Field(
        default=None, description="The dispatcher's reason when ``reason`` is 'override'."
    )
    revision: Annotated[int, Field(ge=1)] = Field(default=1, description="The triage revision routed.")
    staging: bool = Field(
        default=False,
        description="Imminent danger with a clinician team on the call: the team is told to stage at a "
        "safe distance until police have made the scene safe.",
    )


class CallStatusChanged(Event):
    """A call moved through its lifecycle (en route, on scene, resolved, cancelled)."""

    topic = Topic.CALLS_STATUS
    ce_type = "org.dispatch.call.status.v1"

    call_id: UUID = Field(description="The call; the message key.")
    status: Literal[CallStatus.EN_ROUTE, CallStatus.ON_SCENE, CallStatus.RESOLVED, CallStatus.CANCELLED] = (
        Field(description="The step reached: en_route, on_scene, resolved or cancelled.")
    )
    unit_id: str | None = Field(default=None, description="The call's primary unit, if any.")
    disposition: Disposition | None = Field(
        default=None, description="How the call ended (resolved or cancelled only)."
    )
    use_of_force: bool | None = Field(
        default=None, description="Whether force was used (resolved or cancelled only); null if not reported."
    )
    notes: str | None = Field(default=None, description="The unit's closing notes, up to 2,000 characters.")
    changed_at: datetime = Field(description="When the step was reported.")


class UnitStatusChanged(Event):
    """A unit was registered, moved or changed status."""

    topic = Topic.UNITS_STATUS
    ce_type = "org.dispatch.unit.status.v1"

    unit_id: str = Field(description="The agency's unit id; the message key.")
    type: UnitType = Field(description="police, co_response or clinician.")
    status: UnitStatus = Field(description="available, dispatched, en_route, on_scene or out_of_service.")
    name: str = Field(description="The unit's display name.")
    lat: Latitude | None = Field(default=None, description="Latitude, WGS84 degrees; null if unknown.")
    lon: Longitude | None = Field(default=None, description="Longitude, WGS84 degrees; null if unknown.")
    call_id: UUID | None = Field(default=None, description="The call the unit is on, if any.")
    changed_at: datetime = Field(description="When the unit changed.")

    def key(self) -> str:
        return self.unit_id


EVENT_TYPES: dict[str, type[Event]] = {
    cls.ce_type: cls
    for cls in (CallReceived, CallUpdated, CallTriaged, CallRouted, CallStatusChanged, UnitStatusChanged)
}
