"""The policy in force, for operations: its version and what it holds."""

from __future__ import annotations

from fastapi import APIRouter

from triage.api.deps import PoliciesDep
from triage.schemas import PolicySummary

router = APIRouter(tags=["triage"])
"""Reading the policy in force (operations)."""


@router.get("/v1/policy", summary="The policy in force: version and summary")
def policy(policies: PoliciesDep) -> PolicySummary:
    return PolicySummary.model_validate(policies.summary())
