"""The side-effect-free preview: how triage would decide a call, with nothing stored or published."""

from __future__ import annotations

from dispatch_shared.events import TriageDecision
from fastapi import APIRouter

from triage.api.deps import PoliciesDep
from triage.policy.engine import classify
from triage.schemas import PREVIEW_EXAMPLE, PreviewRequest

router = APIRouter(tags=["triage"])
"""Previewing decisions (CAD systems, consoles, operations)."""


@router.post(
    "/v1/triage/preview",
    summary="Classify a call without side effects",
    responses={200: {"content": {"application/json": {"example": PREVIEW_EXAMPLE}}}},
)
def preview(request: PreviewRequest, policies: PoliciesDep) -> TriageDecision:
    return classify(request.narrative, request.call_type, policy=policies.current)
