"""The HTTP contract of triage: what a preview takes (it answers with the ``TriageDecision`` event model)."""

from __future__ import annotations

from typing import Annotated, cast

from dispatch_shared.events import TRIAGE_DECISION_EXAMPLE
from pydantic import BaseModel, ConfigDict, Field, JsonValue


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


_CALL_TYPE_INDICATOR: dict[str, JsonValue] = {
    "family": "B",
    "code": "suicidal_ideation",
    "text": "SUICTHRT",
    "span": [0, 8],
    "source": "call_type",
}
PREVIEW_EXAMPLE: dict[str, JsonValue] = {
    **TRIAGE_DECISION_EXAMPLE,
    # PreviewRequest's example also names the call type, which adds its own indicator.
    "indicators": [
        *cast(list[JsonValue], TRIAGE_DECISION_EXAMPLE["indicators"]),
        _CALL_TYPE_INDICATOR,
    ],
}
"""The decision a preview of ``PreviewRequest``'s example answers (the ``TriageDecision`` event model)."""
