"""The HTTP contract of routing: units, lifecycle reports, calls as consoles see them, insights."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from dispatch_shared.events import (
    AssignedUnit,
    CallStatus,
    Disposition,
    Latitude,
    Location,
    Longitude,
    OverrideReason,
    Route,
    ThreatLevel,
    TriageDecision,
    UnitStatus,
    UnitType,
)
from dispatch_shared.text import CleanText
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from routing.coverage import parse_window
from routing.insights import RepeatLocation, RouteChange, RouteOutcomes, route_changes
from routing.lifecycle import allowed_after
from routing.models import CallOverride, CallUnit, RoutedCall, RoutingUnit

UnitId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
]
NOTES_MAX_CHARS = 2000
MAX_UNITS_PER_REQUEST = 500


def _service_window(text: str) -> str:
    parse_window(text)  # raises ValueError naming the window
    return text


ServiceWindow = Annotated[
    str,
    StringConstraints(strip_whitespace=True, min_length=1, max_length=40),
    AfterValidator(_service_window),
]
ZoneName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]


class UnitRegistration(BaseModel):
    """A unit to add to the roster, or the new details of one already there."""

    model_config = ConfigDict(extra="forbid")

    unit_id: UnitId = Field(description="Agency's unit id, e.g. 'CL-12'; letters, digits, '.', '_', '-'.")
    type: UnitType
    name: Annotated[CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)]
    lat: Latitude | None = None
    lon: Longitude | None = Field(default=None, validate_default=True)
    status: Literal[UnitStatus.AVAILABLE, UnitStatus.OUT_OF_SERVICE] | None = Field(
        default=None, description="available or out_of_service; omitted keeps a known unit's status."
    )
    service_hours: Annotated[list[ServiceWindow], Field(max_length=21)] | None = Field(
        default=None,
        description="Weekly windows in AGENCY_TIMEZONE when the unit takes calls, e.g. "
        "['mon-fri 08:00-17:00', 'sat 22:00-06:00'] (a window ending before it starts runs past "
        "midnight). Omitted: its type's from ROSTER_FILE, else always.",
    )
    zones: Annotated[list[ZoneName], Field(max_length=50)] | None = Field(
        default=None,
        description="Names of ZONES_FILE zones the unit serves. "
        "Omitted: its type's from ROSTER_FILE, else anywhere.",
    )

    @field_validator("lon")
    @classmethod
    def _both_coordinates(cls, lon: float | None, info: ValidationInfo) -> float | None:
        if (lon is None) != (info.data.get("lat") is None) and "lat" in info.data:
            raise ValueError("give both lat and lon, or neither")
        return lon


class UnitStatusUpdate(BaseModel):
    """Put a unit in or out of service, optionally with where it is now."""

    model_config = ConfigDict(extra="forbid")

    status: UnitStatus
    lat: Latitude | None = None
    lon: Longitude | None = None


class UnitView(BaseModel):
    """A unit as the roster holds it."""

    unit_id: str
    type: UnitType
    name: str
    status: UnitStatus
    lat: float | None
    lon: float | None
    current_call_id: str | None
    available_since: datetime | None
    updated_at: datetime
    service_hours: list[str] | None = Field(description="The unit's own windows; null: its type's.")
    zones: list[str] | None = Field(description="The unit's own zones; null: its type's.")

    @classmethod
    def of(cls, unit: RoutingUnit) -> UnitView:
        own = {
            "service_hours": json.loads(unit.service_hours) if unit.service_hours else None,
            "zones": json.loads(unit.zones) if unit.zones else None,
        }
        return cls.model_validate(unit.model_dump() | own)


class UnitList(BaseModel):
    """The roster."""

    items: list[UnitView]
    total: int


class CallStatusReport(BaseModel):
    """A lifecycle step. A disposition is required to resolve, and allowed only to close a call."""

    model_config = ConfigDict(extra="forbid")

    status: Literal[CallStatus.EN_ROUTE, CallStatus.ON_SCENE, CallStatus.RESOLVED, CallStatus.CANCELLED]
    disposition: Disposition | None = Field(default=None, validate_default=True)
    use_of_force: bool | None = Field(default=None, validate_default=True)
    notes: Annotated[CleanText, StringConstraints(max_length=NOTES_MAX_CHARS)] | None = None

    @field_validator("disposition")
    @classmethod
    def _disposition_closes(cls, disposition: Disposition | None, info: ValidationInfo) -> Disposition | None:
        status = info.data.get("status")
        if status is CallStatus.RESOLVED and disposition is None:
            raise ValueError("a disposition is required to resolve a call")
        if disposition is not None and status in (CallStatus.EN_ROUTE, CallStatus.ON_SCENE):
            raise ValueError("a disposition is given only when resolving or cancelling")
        return disposition

    @field_validator("use_of_force")
    @classmethod
    def _force_closes(cls, use_of_force: bool | None, info: ValidationInfo) -> bool | None:
        if use_of_force is not None and info.data.get("status") in (CallStatus.EN_ROUTE, CallStatus.ON_SCENE):
            raise ValueError("use_of_force is reported when resolving or cancelling")
        return use_of_force


BACKUP_REASON_MAX_CHARS = 500


class BackupRequest(BaseModel):
    """A unit on the call (or a dispatcher relaying its radio) asks for another unit beside it."""

    model_config = ConfigDict(extra="forbid")

    status: Literal["backup_requested"]
    reason: Annotated[
        CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=BACKUP_REASON_MAX_CHARS)
    ]
    unit_type: UnitType = Field(
        default=UnitType.POLICE, description="The kind of unit needed; police by default."
    )


StatusRequest = Annotated[CallStatusReport | BackupRequest, Field(discriminator="status")]
"""What ``POST /v1/calls/{call_id}/status`` accepts: a lifecycle step or a request for backup."""


class OverrideRequest(BaseModel):
    """A dispatcher overruling the system: a new route, a named primary unit, or both, and why."""

    model_config = ConfigDict(extra="forbid")

    route: Route | None = None
    unit_id: UnitId | None = Field(default=None, description="This unit becomes the call's primary.")
    reason: OverrideReason
    notes: Annotated[CleanText, StringConstraints(max_length=NOTES_MAX_CHARS)] | None = None
    dispatcher: (
        Annotated[CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] | None
    ) = Field(default=None, description="Who overrides, as the record should name them; else the role.")
    version: int | None = Field(
        default=None,
        ge=0,
        description="The call's version the dispatcher saw; a call changed since then answers 409. "
        "Omitted: the version when the request arrived.",
    )

    @model_validator(mode="after")
    def _something_to_change(self) -> OverrideRequest:
        if self.route is None and self.unit_id is None:
            raise ValueError("give a route, a unit_id, or both")
        return self


class OverrideView(BaseModel):
    """A dispatcher's override, kept beside the system's decision."""

    overridden_at: datetime
    by: str
    reason: OverrideReason
    notes: str | None
    from_route: Route
    to_route: Route
    from_unit_id: str | None
    to_unit_id: str | None

    @classmethod
    def of(cls, record: CallOverride) -> OverrideView:
        return cls.model_validate(record, from_attributes=True)


class CallUnitView(BaseModel):
    """A unit sent to a call: the primary (the first sent) or one added when a revision escalated it."""

    unit_id: str
    type: UnitType
    role: Literal["primary", "added"]
    assigned_at: datetime | None
    distance_km: float | None = Field(description="Great-circle distance when sent, km; None if unknown.")
    fallback_used: bool = Field(description="Not the first unit type of the route's fallback chain.")
    backup_reason: str | None = Field(default=None, description="Why the field asked for it, when backup.")
    revision: int | None = Field(
        default=None, description="The call's triage revision when the unit was added; None for the primary."
    )


class CallView(BaseModel):
    """A call as routing holds it: the route and why, the unit, the lifecycle, the outcome."""

    call_id: str
    status: CallStatus
    route: Route
    priority: int
    threat_level: ThreatLevel | None
    crisis: bool
    needs_review: bool
    ems_required: bool
    clinician_followup: bool
    language: str | None = Field(
        description="ISO 639-1 code of the narrative's main language as triage read it, 'und' when unknown."
    )
    needs_interpreter: bool = Field(
        description="The narrative needs an interpreter or review: triage could not read it "
        "(rule R0_language_not_covered)."
    )
    location: Location | None
    unit: AssignedUnit | None = Field(description="The primary unit: the first sent.")
    units: list[CallUnitView] = Field(
        description="Every unit sent to the call, primary first, then those added by escalations."
    )
    revision: int = Field(description="The triage revision applied (1 for the first decision).")
    suggested_route: Route | None = Field(
        description="A lesser route a later revision suggests; routing never takes units off a call alone."
    )
    staging: bool = Field(
        description="The threat turned imminent with a clinician team on the call: the team stages at a "
        "safe distance until police have made the scene safe."
    )
    awaiting_route: Route | None = Field(
        description="An escalation found no free unit for this route; the next freed unit serving it goes."
    )
    awaiting_backup: str | None = Field(
        default=None,
        description="The field's reason while ``awaiting_route`` waits for a backup unit, else None.",
    )
    fallback_used: bool
    distance_km: float | None
    disposition: Disposition | None
    use_of_force: bool | None
    notes: str | None
    received_at: datetime
    routed_at: datetime
    assigned_at: datetime | None
    en_route_at: datetime | None
    on_scene_at: datetime | None
    resolved_at: datetime | None
    cancelled_at: datetime | None
    updated_at: datetime
    allowed_transitions: list[CallStatus] = Field(description="Lifecycle steps that may be reported next.")
    decision: TriageDecision | None = Field(description="Triage's explained decision: indicators, rule, why.")
    overrides: list[OverrideView] = Field(
        default_factory=list, description="Dispatchers' overrides of the system's routing, oldest first."
    )
    version: int = Field(default=0, description="Grows with every change; send it with an override.")

    @classmethod
    def of(
        cls, call: RoutedCall, added: Sequence[CallUnit] = (), overrides: Sequence[CallOverride] = ()
    ) -> CallView:
        """The view of ``call``; ``added``: its ``routing_call_units`` rows; ``overrides``: its overrides."""
        has_location = call.lat is not None or call.address is not None
        units: list[CallUnitView] = []
        if call.unit_id and call.unit_type:
            primary = CallUnitView(
                unit_id=call.unit_id,
                type=UnitType(call.unit_type),
                role="primary",
                assigned_at=call.assigned_at,
                distance_km=call.distance_km,
                fallback_used=call.fallback_used,
            )
            units.append(primary)
        units += [
            CallUnitView(
                unit_id=unit.unit_id,
                type=UnitType(unit.unit_type),
                role="added",
                assigned_at=unit.assigned_at,
                distance_km=unit.distance_km,
                fallback_used=unit.fallback_used,
                backup_reason=unit.backup_reason,
                revision=unit.revision,
            )
            for unit in added
        ]
        return cls(
            call_id=call.call_id,
            status=CallStatus(call.status),
            route=Route(call.route),
            priority=call.priority,
            threat_level=ThreatLevel(call.threat_level) if call.threat_level else None,
            crisis=call.crisis,
            needs_review=call.needs_review,
            ems_required=call.ems_required,
            clinician_followup=call.clinician_followup,
            language=call.language,
            needs_interpreter=call.needs_interpreter,
            location=Location(address=call.address, lat=call.lat, lon=call.lon) if has_location else None,
            unit=(
                AssignedUnit(unit_id=call.unit_id, type=UnitType(call.unit_type))
                if call.unit_id and call.unit_type
                else None
            ),
            units=units,
            revision=call.revision,
            suggested_route=Route(call.suggested_route) if call.suggested_route else None,
            staging=call.staging,
            awaiting_route=Route(call.awaiting_route) if call.awaiting_route else None,
            awaiting_backup=call.awaiting_backup,
            fallback_used=call.fallback_used,
            distance_km=call.distance_km,
            disposition=Disposition(call.disposition) if call.disposition else None,
            use_of_force=call.use_of_force,
            notes=call.notes,
            received_at=call.received_at,
            routed_at=call.routed_at,
            assigned_at=call.assigned_at,
            en_route_at=call.en_route_at,
            on_scene_at=call.on_scene_at,
            resolved_at=call.resolved_at,
            cancelled_at=call.cancelled_at,
            updated_at=call.updated_at,
            allowed_transitions=allowed_after(CallStatus(call.status)),
            decision=TriageDecision.model_validate(json.loads(call.decision)) if call.decision else None,
            overrides=[OverrideView.of(record) for record in overrides],
            version=call.version,
        )


class StreamToken(BaseModel):
    """A short-lived token that opens the event stream: ``GET /v1/stream?token=...``."""

    token: str
    token_type: Literal["stream"] = Field(default="stream", description="Opens the event stream only.")
    expires_in: int = Field(description="Seconds the token can still open a stream.")


class CallPage(BaseModel):
    """A page of calls."""

    items: list[CallView]
    total: int
    limit: int
    offset: int


class OutcomeReport(BaseModel):
    """Outcomes per route for calls received in [since, until), and how dispatchers changed routes."""

    since: datetime
    until: datetime
    routes: dict[Route, RouteOutcomes]

    @computed_field(  # type: ignore[prop-decorator]
        description="Overridden calls per (system_route, final_route), most calls first: system_route "
        "is the route the call had when first overridden (the first override's from_route), "
        "final_route the route its last override left it on. Overrides are where bias can creep "
        "back in, so they are shown per route."
    )
    @property
    def overrides_by_route_change(self) -> list[RouteChange]:
        """Derived from each route's ``overrides_by_final_route``."""
        return route_changes(self.routes)


class RepeatLocationReport(BaseModel):
    """Places with at least ``min_calls`` crisis calls received in [since, until)."""

    since: datetime
    until: datetime
    min_calls: int
    places: list[RepeatLocation]
