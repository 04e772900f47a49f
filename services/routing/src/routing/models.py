"""routing's tables: its calls and the units added to them, its unit roster, the dispatch lock, and the
outbox and inbox of its events."""

from __future__ import annotations

import json
from datetime import datetime

from dispatch_shared.consumer import ProcessedEventRecord
from dispatch_shared.db import UtcDateTime
from dispatch_shared.events import utcnow
from dispatch_shared.outbox import OutboxRecord
from sqlalchemy import Index, Text, UniqueConstraint
from sqlmodel import Field, SQLModel


class RoutedCall(SQLModel, table=True):
    """A triaged call routing is responsible for, from queue to resolution.

    ``version`` grows with every change; lifecycle updates are conditional on the status they
    read, so two racing updates of one call cannot both apply. ``unit_id`` is the call's primary
    unit (the first sent); units added when a new triage revision escalated the call are rows of
    ``routing_call_units``. ``route``, ``threat_level`` and ``priority`` are the response in force;
    ``decision`` is triage's latest reading, which may suggest less (``suggested_route``).
    ``triaged_route`` is the route triage first decided, kept whatever changes the route later.
    """

    __tablename__ = "routing_calls"
    __table_args__ = (
        # The queue is read in dispatch order; insights read by time window.
        Index("ix_routing_calls_queue", "status", "priority", "received_at"),
        Index("ix_routing_calls_received_at", "received_at"),
    )

    call_id: str = Field(primary_key=True, max_length=36)
    route: str = Field(max_length=20, index=True)
    priority: int
    status: str = Field(max_length=20, index=True)
    clinician_followup: bool = False
    lat: float | None = None
    lon: float | None = None
    address: str | None = Field(default=None, max_length=500)
    threat_level: str | None = Field(default=None, max_length=20)
    crisis: bool = False
    needs_review: bool = False
    ems_required: bool = False
    language: str | None = Field(default=None, max_length=16, description="ISO 639-1 code, or 'und'.")
    needs_interpreter: bool = False
    decision: str | None = Field(default=None, sa_type=Text, description="Triage decision record as JSON.")
    unit_id: str | None = Field(default=None, max_length=64, index=True)
    unit_type: str | None = Field(default=None, max_length=20)
    fallback_used: bool = False
    distance_km: float | None = None
    triaged_route: str = Field(
        max_length=20,
        description="The route of triage's first decision routing applied; no revision or override "
        "changes it. Eligibility for a clinician team is judged by it (routing.unserved).",
    )
    overridden_route: str | None = Field(
        default=None,
        max_length=20,
        description="With ``overridden_threat_level``: the most severe reading the dispatcher overrides "
        "in force set aside. A later revision re-routes past the override only when it reads more "
        "(routing.retriage); null when no override holds the route.",
    )
    overridden_threat_level: str | None = Field(default=None, max_length=20)
    disposition: str | None = Field(default=None, max_length=40)
    use_of_force: bool | None = None
    notes: str | None = Field(default=None, sa_type=Text)
    received_at: datetime = Field(sa_type=UtcDateTime)
    routed_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    assigned_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    en_route_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    on_scene_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    resolved_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    cancelled_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    version: int = 0
    revision: int = Field(default=1, description="The triage revision last applied (CallTriaged.revision).")
    suggested_route: str | None = Field(
        default=None,
        max_length=20,
        description="A route a later revision suggested and a dispatcher has to accept: a lesser one on a "
        "call with units, or one an override in force holds against; never applied alone.",
    )
    staging: bool = Field(
        default=False,
        description="Threat turned imminent with a clinician team on the call: it stages at a safe "
        "distance until police have made the scene safe.",
    )
    awaiting_route: str | None = Field(
        default=None,
        max_length=20,
        index=True,
        description="An escalation found no free unit for this route: the next freed unit serving it goes.",
    )
    awaiting_backup: str | None = Field(
        default=None,
        sa_type=Text,
        description="The field's reason when ``awaiting_route`` waits for a backup unit rather than an "
        "escalation's.",
    )
    redacted_as_of: datetime | None = Field(
        default=None,
        sa_type=UtcDateTime,
        description="``updated_at`` of the row when retention last cleared it; a later change (say, "
        "notes reported after the purge) makes the row due again.",
    )


class CallUnit(SQLModel, table=True):
    """A unit added to a call beyond its primary: a new triage revision escalated the call, or a unit
    on it asked for backup (``backup_reason``).

    The unit's own row holds ``current_call_id`` as for a primary, so the claim that sent it is the
    same conditional update; closing the call frees it and sets ``released_at``.
    """

    __tablename__ = "routing_call_units"

    call_id: str = Field(primary_key=True, max_length=36)
    unit_id: str = Field(primary_key=True, max_length=64, index=True)
    unit_type: str = Field(max_length=20)
    revision: int = Field(description="The triage revision that added the unit.")
    distance_km: float | None = None
    fallback_used: bool = False
    assigned_at: datetime = Field(sa_type=UtcDateTime)
    released_at: datetime | None = Field(default=None, sa_type=UtcDateTime)
    backup_reason: str | None = Field(
        default=None, sa_type=Text, description="Why the field asked for this unit, when it came as backup."
    )


class CallOverride(SQLModel, table=True):
    """A dispatcher overruling the system on a call: who, when, why, and what changed.

    The call's ``decision`` (triage's reading) is never rewritten by an override; this row sits
    beside it, so both the system's decision and the dispatcher's are on the record.
    """

    __tablename__ = "routing_overrides"

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(max_length=36, index=True)
    overridden_at: datetime = Field(sa_type=UtcDateTime)
    by: str = Field(max_length=100, description="The dispatcher as they named themselves, else the role.")
    reason: str = Field(max_length=40, description="An OverrideReason value.")
    notes: str | None = Field(default=None, sa_type=Text)
    from_route: str = Field(max_length=20)
    to_route: str = Field(max_length=20)
    from_unit_id: str | None = Field(default=None, max_length=64)
    to_unit_id: str | None = Field(default=None, max_length=64)
    released_unit_ids: str | None = Field(
        default=None,
        sa_type=Text,
        description="JSON list of the units escalations had added that the override's route no longer "
        "needed, freed by it; null: none.",
    )


class RoutingUnit(SQLModel, table=True):
    """A unit on the roster: what it is, where it is, and what it is doing.

    A unit is claimed for a call only by a conditional update from ``available``, so it can
    never be sent to two calls, even by two routing instances.
    """

    __tablename__ = "routing_units"

    unit_id: str = Field(primary_key=True, max_length=64)
    type: str = Field(max_length=20, index=True)
    name: str = Field(max_length=100)
    status: str = Field(max_length=20, index=True)
    lat: float | None = None
    lon: float | None = None
    current_call_id: str | None = Field(default=None, max_length=36)
    service_hours: str | None = Field(
        default=None,
        sa_type=Text,
        description="JSON list of weekly windows (routing.coverage); null: its type's.",
    )
    zones: str | None = Field(
        default=None, sa_type=Text, description="JSON list of zone names; null: its type's."
    )
    available_since: datetime | None = Field(default=None, sa_type=UtcDateTime)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=UtcDateTime)
    version: int = 0


def json_list(column: str | None) -> list[str] | None:
    """A unit's JSON list column (``service_hours``, ``zones``) decoded; None where null (its type's)."""
    return json.loads(column) if column else None


class UnservedCall(SQLModel, table=True):
    """An eligible call not served as triaged, and why (``routing.unserved``); one row per reason."""

    __tablename__ = "routing_unserved"
    __table_args__ = (UniqueConstraint("call_id", "reason", name="uq_routing_unserved_call_reason"),)

    id: int | None = Field(default=None, primary_key=True)
    call_id: str = Field(max_length=36, index=True)
    route: str = Field(max_length=20, description="The eligible route the call had when this happened.")
    reason: str = Field(max_length=40, description="An UnservedReason value.")
    recorded_at: datetime = Field(sa_type=UtcDateTime)


class DispatchLock(SQLModel, table=True):
    """One row that every dispatch decision updates first, so decisions happen one at a time.

    Without it, a call queued in one transaction and a unit freed in another (each blind to the
    other's uncommitted row) would leave a waiting call beside an idle unit.
    """

    __tablename__ = "routing_dispatch_lock"

    id: int = Field(primary_key=True)
    decisions: int = 0


class RoutingOutbox(OutboxRecord, table=True):
    __tablename__ = "routing_outbox"


class RoutingProcessedEvent(ProcessedEventRecord, table=True):
    __tablename__ = "routing_processed_events"
