"""triage's two HTTP reads, through its real app: the policy in force and a preview."""

from __future__ import annotations

from dispatch_shared.auth import Role
from fastapi.testclient import TestClient

from tests.unit.service_apps import KEYS, service_app


def auth(role: Role) -> dict[str, str]:
    return {"Authorization": f"Bearer {KEYS[role]}"}


def test_the_policy_summary_is_for_ops_and_matches_its_documented_model() -> None:
    client = TestClient(service_app("triage"))
    assert client.get("/v1/policy", headers=auth(Role.CAD)).status_code == 403
    served = client.get("/v1/policy", headers=auth(Role.OPS))
    assert served.status_code == 200
    body = served.json()
    documented = client.get("/openapi.json").json()["components"]["schemas"]["PolicySummary"]
    assert set(body) == set(documented["properties"])
    assert body["languages"] == ["en", "es"] and body["phrase_patterns"] > 0
    assert body["last_reload_error"] is None


def test_a_preview_decides_without_storing_anything() -> None:
    client = TestClient(service_app("triage"))
    narrative = "Caller says her brother is talking about killing himself, he has a knife in the kitchen"
    served = client.post(
        "/v1/triage/preview", json={"narrative": narrative, "call_type": "SUICTHRT"}, headers=auth(Role.OPS)
    )
    assert served.status_code == 200, served.text
    assert served.json()["route"] == "co_response"
