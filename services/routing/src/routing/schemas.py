"""The HTTP contract of routing: units, lifecycle reports, calls as consoles see them, insights."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Annotated, Literal

from dispatch_shared.events import (
    TRIAGE_DECISION_EXAMPLE,
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
from dispatch_shared.paging import Page
from dispatch_shared.text import CleanText
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    JsonValue,
    StringConstraints,
    ValidationInfo,
    computed_field,
    field_validator,
    model_validator,
)

from routing.coverage import parse_window
from routing.insights import RepeatLocation, RouteChange, RouteOutcomes, route_changes
from routing.lifecycle import allowed_after
from routing.models import CallOverride, CallUnit, RoutedCall, RoutingUnit, json_list

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

_UNIT_EXAMPLE: dict[str, JsonValue] = {
    "unit_id": "CL-12",
    "type": "clinician",
    "name": "Clinician team 12",
    "status": "available",
    "lat": 47.6145,
    "lon": -122.321,
    "current_call_id": None,
    "available_since": "2026-03-01T21:40:00Z",
    "updated_at": "2026-03-01T21:40:00Z",
    "service_hours": ["mon-fri 08:00-20:00"],
    "zones": None,
}
_CALL_UNIT_EXAMPLE: dict[str, JsonValue] = {
    "unit_id": "CR-3",
    "type": "co_response",
    "role": "primary",
    "assigned_at": "2026-03-01T22:05:01Z",
    "distance_km": 1.8,
    "fallback_used": False,
    "backup_reason": None,
    "revision": None,
    "released_at": None,
}
_CALL_EXAMPLE: dict[str, JsonValue] = {
    "call_id": "3f2c1e4a-8b7d-4c1e-9f3a-2b6d8e0c5a71",
    "status": "en_route",
    "route": "co_response",
    "triaged_route": "co_response",
    "priority": 2,
    "threat_level": "elevated",
    "crisis": True,
    "needs_review": False,
    "ems_required": False,
    "clinician_followup": False,
    "language": "en",
    "needs_interpreter": False,
    "location": {"address": "1st Ave & Pike St, Seattle", "lat": 47.6097, "lon": -122.3422},
    "unit": {"unit_id": "CR-3", "type": "co_response", "name": None},
    "units": [_CALL_UNIT_EXAMPLE],
    "revision": 1,
    "suggested_route": None,
    "staging": False,
    "awaiting_route": None,
    "awaiting_backup": None,
    "fallback_used": False,
    "distance_km": 1.8,
    "disposition": None,
    "use_of_force": None,
    "notes": None,
    "received_at": "2026-03-01T22:05:00Z",
    "routed_at": "2026-03-01T22:05:01Z",
    "assigned_at": "2026-03-01T22:05:01Z",
    "en_route_at": "2026-03-01T22:06:10Z",
    "on_scene_at": None,
    "resolved_at": None,
    "cancelled_at": None,
    "updated_at": "2026-03-01T22:06:10Z",
    "allowed_transitions": ["on_scene", "cancelled"],
    "decision": TRIAGE_DECISION_EXAMPLE,
    "overrides": [],
    "version": 3,
}


class UnitRegistration(BaseModel):
    """A unit to add to the roster, or the new details of one already there."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "unit_id": "CL-12",
                    "type": "clinician",
                    "name": "Clinician team 12",
                    "lat": 47.6145,
                    "lon": -122.321,
                    "status": "available",
                    "service_hours": ["mon-fri 08:00-20:00"],
                }
            ]
        },
    )

    unit_id: UnitId = Field(
        description="Agency's unit id, e.g. 'CL-12'; 1-64 letters, digits, '.', '_', '-'."
    )
    type: UnitType = Field(description="police, co_response or clinician.")
    name: Annotated[CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=100)] = (
        Field(description="Display name, 1-100 characters.")
    )
    lat: Latitude | None = Field(default=None, description="Where the unit is: latitude, WGS84 degrees.")
    lon: Longitude | None = Field(
        default=None,
        validate_default=True,
        description="Longitude, WGS84 degrees; give both lat and lon, or neither.",
    )
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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"status": "available", "lat": 47.6145, "lon": -122.321}]},
    )

    status: UnitStatus = Field(
        description="available or out_of_service; the other statuses follow the unit's call (409)."
    )
    lat: Latitude | None = Field(default=None, description="Where the unit is now: latitude, WGS84 degrees.")
    lon: Longitude | None = Field(default=None, description="Longitude, WGS84 degrees.")


class UnitView(BaseModel):
    """A unit as the roster holds it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_UNIT_EXAMPLE]})

    unit_id: str = Field(description="The agency's unit id.")
    type: UnitType = Field(description="police, co_response or clinician.")
    name: str = Field(description="Display name.")
    status: UnitStatus = Field(description="available, dispatched, en_route, on_scene or out_of_service.")
    lat: float | None = Field(description="Last known latitude, WGS84 degrees; null if unknown.")
    lon: float | None = Field(description="Last known longitude, WGS84 degrees; null if unknown.")
    current_call_id: str | None = Field(description="The call the unit is on; null when free.")
    available_since: datetime | None = Field(
        description="When it last became available (who waited longest goes first); null when not available."
    )
    updated_at: datetime = Field(description="When the unit last changed.")
    service_hours: list[str] | None = Field(description="The unit's own windows; null: its type's.")
    zones: list[str] | None = Field(description="The unit's own zones; null: its type's.")

    @classmethod
    def of(cls, unit: RoutingUnit) -> UnitView:
        own = {"service_hours": json_list(unit.service_hours), "zones": json_list(unit.zones)}
        return cls.model_validate(unit.model_dump() | own)


class UnitList(BaseModel):
    """The roster."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"items": [_UNIT_EXAMPLE], "total": 1}]})

    items: list[UnitView] = Field(description="The units, by type then id.")
    total: int = Field(description="How many units are listed.")


class CallStatusReport(BaseModel):
    """A lifecycle step. A disposition is required to resolve, and allowed only to close a call."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"status": "en_route"},
                {
                    "status": "resolved",
                    "disposition": "referred_to_services",
                    "use_of_force": False,
                    "notes": "Connected with the mobile crisis team.",
                },
            ]
        },
    )

    status: Literal[CallStatus.EN_ROUTE, CallStatus.ON_SCENE, CallStatus.RESOLVED, CallStatus.CANCELLED] = (
        Field(
            description="The step reached: en_route, on_scene, resolved or cancelled (see the call's "
            "allowed_transitions)."
        )
    )
    disposition: Disposition | None = Field(
        default=None,
        validate_default=True,
        description="How the call ended: required to resolve, allowed when cancelling, refused otherwise.",
    )
    use_of_force: bool | None = Field(
        default=None,
        validate_default=True,
        description="Whether force was used; only when resolving or cancelling.",
    )
    notes: Annotated[CleanText, StringConstraints(max_length=NOTES_MAX_CHARS)] | None = Field(
        default=None, description=f"Closing notes, up to {NOTES_MAX_CHARS:,} characters."
    )

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

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "backup_requested",
                    "reason": "Subject has barricaded with a knife",
                    "unit_type": "police",
                }
            ]
        },
    )

    status: Literal["backup_requested"] = Field(description="Always 'backup_requested'.")
    reason: Annotated[
        CleanText, StringConstraints(strip_whitespace=True, min_length=1, max_length=BACKUP_REASON_MAX_CHARS)
    ] = Field(description=f"Why backup is needed, 1-{BACKUP_REASON_MAX_CHARS} characters.")
    unit_type: UnitType = Field(
        default=UnitType.POLICE, description="The kind of unit needed; police by default."
    )


StatusRequest = Annotated[CallStatusReport | BackupRequest, Field(discriminator="status")]
"""What ``POST /v1/calls/{call_id}/status`` accepts: a lifecycle step or a request for backup."""


class OverrideRequest(BaseModel):
    """A dispatcher overruling the system: a new route, a named primary unit, or both, and why."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "route": "clinician_only",
                    "unit_id": "CL-12",
                    "reason": "caller_history",
                    "notes": "Known to the crisis team; no weapons history.",
                    "dispatcher": "D. Okafor",
                    "version": 3,
                }
            ]
        },
    )

    route: Route | None = Field(default=None, description="The new route; omitted keeps the call's route.")
    unit_id: UnitId | None = Field(default=None, description="This unit becomes the call's primary.")
    reason: OverrideReason = Field(description="Why, from a fixed vocabulary so overrides can be audited.")
    notes: Annotated[CleanText, StringConstraints(max_length=NOTES_MAX_CHARS)] | None = Field(
        default=None, description=f"Free text, up to {NOTES_MAX_CHARS:,} characters."
    )
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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "overridden_at": "2026-03-01T22:07:00Z",
                    "by": "D. Okafor",
                    "reason": "caller_history",
                    "notes": None,
                    "from_route": "co_response",
                    "to_route": "clinician_only",
                    "from_unit_id": "CR-3",
                    "to_unit_id": "CL-12",
                    "released_unit_ids": ["P-7"],
                }
            ]
        }
    )

    overridden_at: datetime = Field(description="When the override was made.")
    by: str = Field(description="Who overrode: the dispatcher named in the request, else the key's role.")
    reason: OverrideReason = Field(description="Why, from the fixed vocabulary.")
    notes: str | None = Field(description="The dispatcher's notes, if any.")
    from_route: Route = Field(description="The route before the override.")
    to_route: Route = Field(description="The route after it.")
    from_unit_id: str | None = Field(description="The primary unit before, if any.")
    to_unit_id: str | None = Field(description="The primary unit after, if any.")
    released_unit_ids: list[str] = Field(
        default_factory=list,
        description="Units escalations had added that the new route no longer needed, freed by the override.",
    )

    @classmethod
    def of(cls, record: CallOverride) -> OverrideView:
        released = json.loads(record.released_unit_ids) if record.released_unit_ids else []
        return cls.model_validate(
            record.model_dump(exclude={"released_unit_ids"}) | {"released_unit_ids": released}
        )


class CallUnitView(BaseModel):
    """A unit sent to a call: the primary (the first sent) or one added when a revision escalated it."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CALL_UNIT_EXAMPLE]})

    unit_id: str = Field(description="The agency's unit id.")
    type: UnitType = Field(description="police, co_response or clinician.")
    role: Literal["primary", "added"] = Field(
        description="'primary': the first unit sent; 'added': sent later (escalation or backup)."
    )
    assigned_at: datetime | None = Field(description="When the unit was sent.")
    distance_km: float | None = Field(description="Great-circle distance when sent, km; None if unknown.")
    fallback_used: bool = Field(description="Not the first unit type of the route's fallback chain.")
    backup_reason: str | None = Field(default=None, description="Why the field asked for it, when backup.")
    revision: int | None = Field(
        default=None, description="The call's triage revision when the unit was added; None for the primary."
    )
    released_at: datetime | None = Field(
        default=None,
        description="When an added unit left the call before it closed (an override's route no longer "
        "needed it) or as it closed; None while on the call, and for the primary.",
    )


class CallView(BaseModel):
    """A call as routing holds it: the route and why, the unit, the lifecycle, the outcome."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CALL_EXAMPLE]})

    call_id: str = Field(description="intake's id for the call (a UUID).")
    status: CallStatus = Field(
        description="queued, assigned, en_route, on_scene, resolved or cancelled (routing's statuses)."
    )
    route: Route = Field(description="The route in force: clinician_only, co_response or police.")
    triaged_route: Route = Field(
        description="The route triage first decided, whatever revisions and overrides made of it since."
    )
    priority: int = Field(description="1 (most urgent) to 4.")
    threat_level: ThreatLevel | None = Field(description="none, elevated, high or imminent, as triaged.")
    crisis: bool = Field(description="A behavioral crisis fired (triage's crisis).")
    needs_review: bool = Field(description="Triage asks a person to check its decision.")
    ems_required: bool = Field(description="A medical indicator fired: EMS is needed.")
    clinician_followup: bool = Field(description="Police go first, and a clinician follows up.")
    language: str | None = Field(
        description="ISO 639-1 code of the narrative's main language as triage read it, 'und' when unknown."
    )
    needs_interpreter: bool = Field(
        description="The narrative needs an interpreter or review: triage could not read it "
        "(rule R0_language_not_covered), or read less than 0.8 of it and held the call."
    )
    location: Location | None = Field(description="Where the call is; null if unknown.")
    unit: AssignedUnit | None = Field(description="The primary unit: the first sent.")
    units: list[CallUnitView] = Field(
        description="Every unit sent to the call, primary first, then those added by escalations."
    )
    revision: int = Field(description="The triage revision applied (1 for the first decision).")
    suggested_route: Route | None = Field(
        description="A route a later revision suggests for a dispatcher to accept: a lesser one (routing "
        "never takes units off a call alone), or one no more severe than what an override set aside."
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
    fallback_used: bool = Field(
        description="The primary is not the first type of the route's fallback chain."
    )
    distance_km: float | None = Field(description="Great-circle distance of the primary when sent, km.")
    disposition: Disposition | None = Field(description="How the call ended; null while open.")
    use_of_force: bool | None = Field(description="Whether force was used, as reported when closing.")
    notes: str | None = Field(description="The closing notes, if any.")
    received_at: datetime = Field(description="When CAD received the call.")
    routed_at: datetime = Field(description="When routing first decided.")
    assigned_at: datetime | None = Field(description="When the primary was sent; null while queued.")
    en_route_at: datetime | None = Field(description="When en_route was reported.")
    on_scene_at: datetime | None = Field(description="When on_scene was reported.")
    resolved_at: datetime | None = Field(description="When the call was resolved.")
    cancelled_at: datetime | None = Field(description="When the call was cancelled.")
    updated_at: datetime = Field(description="When the call last changed.")
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
                released_at=unit.released_at,
            )
            for unit in added
        ]
        return cls(
            call_id=call.call_id,
            status=CallStatus(call.status),
            route=Route(call.route),
            triaged_route=Route(call.triaged_route),
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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {"token": "c3RyZWFtOmNvbnNvbGU6MTc0MDg2.Zk9x3q", "token_type": "stream", "expires_in": 60}
            ]
        }
    )

    token: str = Field(description="Opaque; put it in the stream's URL as ?token=.")
    token_type: Literal["stream"] = Field(default="stream", description="Opens the event stream only.")
    expires_in: int = Field(description="Seconds the token can still open a stream.")


class CallPage(Page[CallView]):
    """A page of calls."""

    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_CALL_EXAMPLE], "total": 1, "limit": 100, "offset": 0}]}
    )


class OutcomeReport(BaseModel):
    """Outcomes per route for calls received in [since, until), and how dispatchers changed routes."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-02-01T00:00:00Z",
                    "until": "2026-03-01T00:00:00Z",
                    "routes": {
                        "clinician_only": {
                            "calls": 120,
                            "resolved": 112,
                            "cancelled": 6,
                            "open": 2,
                            "fallback_used": 9,
                            "dispositions": {"referred_to_services": 70, "resolved_on_scene": 42},
                            "arrest_rate": 0.0,
                            "use_of_force_rate": 0.0,
                            "referral_rate": 0.625,
                            "median_minutes_to_assign": 1.5,
                            "median_minutes_to_scene": 14.2,
                            "median_minutes_to_resolve": 48.0,
                            "backup_requests": 3,
                            "backup_requests_per_100_calls": 2.5,
                            "re_triage_escalations": 4,
                            "overrides": 5,
                            "overrides_by_reason": {"caller_history": 3, "officer_safety": 2},
                            "overrides_by_final_route": {"co_response": 4, "clinician_only": 1},
                        }
                    },
                    "overrides_by_route_change": [
                        {"system_route": "clinician_only", "final_route": "co_response", "calls": 4}
                    ],
                }
            ]
        }
    )

    since: datetime = Field(description="Start of the window (received time), inclusive.")
    until: datetime = Field(description="End of the window, exclusive.")
    routes: dict[Route, RouteOutcomes] = Field(description="The outcomes of each route's calls.")

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

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "since": "2026-02-01T00:00:00Z",
                    "until": "2026-03-01T00:00:00Z",
                    "min_calls": 3,
                    "places": [
                        {
                            "place": "47.610,-122.342",
                            "lat": 47.61,
                            "lon": -122.342,
                            "address": "1st Ave & Pike St, Seattle",
                            "calls": 5,
                            "first_call_at": "2026-02-03T10:12:00Z",
                            "last_call_at": "2026-02-27T22:40:00Z",
                            "routes": {"clinician_only": 4, "co_response": 1},
                        }
                    ],
                }
            ]
        }
    )

    since: datetime = Field(description="Start of the window (received time), inclusive.")
    until: datetime = Field(description="End of the window, exclusive.")
    min_calls: int = Field(description="The fewest crisis calls a place needs to be listed.")
    places: list[RepeatLocation] = Field(description="The places, most calls first.")
