"""Dependencies the routes share: the policy in force."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from triage.policy.store import PolicyStore


def get_policies(request: Request) -> PolicyStore:
    """The store holding the policy in force (reloaded when its files change)."""
    policies: PolicyStore = request.app.state.policies
    return policies


PoliciesDep = Annotated[PolicyStore, Depends(get_policies)]
