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


class PolicySummary(BaseModel):
    """The triage policy in force (``GET /v1/policy``): which files, which version, what it holds.

    Counts only: never a phrase, a narrative or anything from a call.
    """

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "version": "2025.4.0+es.2026.5.0",
                    "source": "policy/lexicon.json, policy/lexicon.es.json",
                    "languages": ["en", "es"],
                    "sha256": "1f7685515377f85ec9c902e8280b63c3ecd6c33be68308bddb39d1e4b25b59c7",
                    "indicators_per_family": {"B": 12, "S": 21, "M": 13},
                    "phrase_patterns": 1105,
                    "call_type_codes": {
                        "SUICTHRT": ["suicidal_ideation"],
                        "MTLV": ["mental_health_crisis", "violent_behavior"],
                    },
                    "call_type_keyword_rules": 36,
                    "descriptors": {"race_ethnicity": 71, "housing_status": 32},
                    "rewrites": 176,
                    "last_reload_error": None,
                }
            ]
        }
    )

    version: str = Field(description="The base lexicon's version, then each layer's: base+layer.version...")
    source: str = Field(description="The policy files read, base first, comma-separated.")
    languages: list[str] = Field(description="ISO 639-1 codes of the languages the policy reads.")
    sha256: str = Field(description="SHA-256 over the policy files' bytes, in order (hex).")
    indicators_per_family: dict[str, int] = Field(
        description="Indicators defined per family: B behavioral, S safety, M medical."
    )
    phrase_patterns: int = Field(description="Phrase patterns in the lexicon, every language.")
    call_type_codes: dict[str, list[str]] = Field(
        description="CAD call-type codes and the indicators each one adds."
    )
    call_type_keyword_rules: int = Field(description="Keyword rules read from free-text call types.")
    descriptors: dict[str, int] = Field(
        description="Protected-descriptor patterns per group; blanked before matching, never decisive."
    )
    rewrites: int = Field(description="Shorthand and misspelling rewrites.")
    last_reload_error: str | None = Field(
        description="Why the last policy reload was refused (the old policy stayed); null if none."
    )
