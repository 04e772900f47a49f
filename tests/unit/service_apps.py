"""The three services' apps as ``create_app`` builds them, for tests that only read their documents.

Nothing is started (no lifespan runs), so no database or broker is reached; requests that pass a
route's role gate would need them, and tests here send none.
"""

from __future__ import annotations

from functools import cache

from dispatch_shared.auth import Role
from fastapi import FastAPI
from intake.app import IntakeSettings
from intake.app import create_app as create_intake
from routing.app import RoutingSettings
from routing.app import create_app as create_routing
from triage.app import TriageSettings
from triage.app import create_app as create_triage

KEYS = {role: f"{role.value}-test-key-{'x' * 16}" for role in Role}
"""One API key per role, as the apps below know them."""
API_KEYS = ",".join(f"{role.value}:{key}" for role, key in KEYS.items())

SERVICES = ("intake", "triage", "routing")


@cache
def service_app(name: str) -> FastAPI:
    """The app of service ``name`` (intake, triage or routing), built once per test session."""
    if name == "intake":
        return create_intake(IntakeSettings(api_keys=API_KEYS))
    if name == "triage":
        return create_triage(TriageSettings(api_keys=API_KEYS))
    if name == "routing":
        return create_routing(RoutingSettings(api_keys=API_KEYS))
    raise ValueError(f"no service {name!r}")
