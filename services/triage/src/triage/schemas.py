"""The HTTP contract of triage: what a preview takes (it answers with the ``TriageDecision`` event model)."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field


class PreviewRequest(BaseModel):
    """A call to classify without side effects."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "narrative": "Caller says her brother is talking about killing himself, he has a knife "
                    "in the kitchen",
                    "call_type": "SUICTHRT",
                }
            ]
        },
    )

    narrative: Annotated[str, Field(max_length=10_000)] = Field(
        default="",
        description="What the caller describes, up to 10,000 characters; nothing is stored or logged.",
    )
    call_type: Annotated[str, Field(max_length=200)] | None = Field(
        default=None, description="CAD call type, e.g. an APCO code such as SUICTHRT (up to 200 characters)."
    )


PREVIEW_EXAMPLE = {
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
        {
            "family": "B",
            "code": "suicidal_ideation",
            "text": "SUICTHRT",
            "span": [0, 8],
            "source": "call_type",
        },
    ],
    "negated": [],
    "rule": "R2_behavioral_with_threat",
    "explanation": "Behavioral indicators (suicidal ideation) with elevated safety risk (weapon present or "
    "possibly present): co-response team.",
    "policy_version": "2025.1.0+es.2026.2.0",
    "language": "en",
    "readable_share": 1.0,
}
"""The decision a preview of ``PreviewRequest``'s example answers (the ``TriageDecision`` event model)."""
