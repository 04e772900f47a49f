"""Factories for events and submissions, so each test states only what it cares about."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4

from dispatch_shared.events import (
    AssignedUnit,
    CallRouted,
    CallStatus,
    CallStatusChanged,
    CallTriaged,
    Route,
    ThreatLevel,
    TriageDecision,
)

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def decision(**overrides: Any) -> TriageDecision:
    values: dict[str, Any] = {
        "route": Route.CLINICIAN_ONLY,
        "threat_level": ThreatLevel.NONE,
        "crisis": True,
        "ems_required": False,
        "clinician_followup": False,
        "needs_review": False,
        "priority": 3,
        "indicators": [],
        "negated": [],
        "rule": "R3_behavioral_no_threat",
        "explanation": "Behavioral indicators with no safety risk: clinician-only team.",
        "policy_version": "test",
    }
    return TriageDecision(**(values | overrides))


def triaged(call_id: UUID, at: datetime = T0, **overrides: Any) -> CallTriaged:
    return CallTriaged(call_id=call_id, decision=decision(**overrides), received_at=T0, triaged_at=at)


def routed(call_id: UUID, at: datetime = T0, unit_id: str | None = "CL-1") -> CallRouted:
    return CallRouted(
        call_id=call_id,
        route=Route.CLINICIAN_ONLY,
        priority=3,
        status=CallStatus.ASSIGNED if unit_id else CallStatus.QUEUED,
        unit=AssignedUnit(unit_id=unit_id, type="clinician") if unit_id else None,
        distance_km=1.2 if unit_id else None,
        routed_at=at,
    )


def status_changed(call_id: UUID, status: CallStatus, at: datetime, **extra: Any) -> CallStatusChanged:
    return CallStatusChanged(call_id=call_id, status=status, changed_at=at, **extra)


def submission(**overrides: Any) -> dict[str, Any]:
    return {"cad_incident_id": f"CAD-{uuid4().hex[:8]}", "narrative": "Man hearing voices", **overrides}


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def new_call_id() -> UUID:
    return uuid4()
