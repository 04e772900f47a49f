"""Every error answer of every service has one body, ``ErrorBody``, whichever layer refuses.

A small app built with ``create_service_app`` raises the domain errors and meets the shared
limits (auth, body size, validation, rate limit, database outage); routing's own domain errors are
checked for the status and body the one handler gives them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest
from dispatch_shared.auth import Role, require
from dispatch_shared.errors import Conflict, DomainError, ErrorBody, InvalidInput, NotFound
from dispatch_shared.events import CallStatus, UnitType
from dispatch_shared.http import create_service_app
from dispatch_shared.ratelimit import RateLimiter, rate_limited
from dispatch_shared.settings import ServiceSettings
from fastapi import Depends, FastAPI
from fastapi.testclient import TestClient
from pydantic import BaseModel
from routing.dispatch import UnknownCall
from routing.lifecycle import TransitionNotAllowed
from routing.override import BackupNotPossible, StaleOverride, backup_route
from routing.roster import ROSTER_STATUSES, UnitBusy, UnknownUnit
from sqlalchemy.exc import OperationalError

OPS_KEY = "ops-" + "k" * 20
CAD_KEY = "cad-" + "k" * 20


class Note(BaseModel):
    text: str


@asynccontextmanager
async def no_resources(_app: FastAPI) -> AsyncIterator[None]:
    yield


def build_app(raised: DomainError | Exception) -> FastAPI:
    settings = ServiceSettings(
        service_name="errors", api_keys=f"ops:{OPS_KEY},cad:{CAD_KEY}", max_body_bytes=1024
    )
    app = create_service_app(title="errors", description="test app", settings=settings, lifespan=no_resources)
    app.state.rate_limiter = RateLimiter(60, burst=1)

    @app.post("/v1/notes", dependencies=[Depends(require(Role.OPS))])
    def post_note(note: Note) -> dict[str, str]:
        raise raised

    @app.post("/v1/limited", dependencies=[Depends(rate_limited)])
    def limited() -> dict[str, str]:
        return {"status": "ok"}

    return app


def answer(raised: DomainError | Exception, **request: Any) -> tuple[int, dict[str, Any]]:
    client = TestClient(build_app(raised), raise_server_exceptions=False)
    response = client.post("/v1/notes", headers={"Authorization": f"Bearer {OPS_KEY}"}, **request)
    body: dict[str, Any] = response.json()
    ErrorBody.model_validate(body)  # the one shape
    return response.status_code, body


def test_domain_errors_become_their_status_and_body() -> None:
    assert answer(NotFound("no call 7"), json={"text": "x"}) == (404, {"detail": "no call 7"})
    assert answer(Conflict("changed meanwhile"), json={"text": "x"}) == (409, {"detail": "changed meanwhile"})
    assert answer(Conflict("busy", allowed=()), json={"text": "x"}) == (
        409,
        {"detail": "busy", "allowed": []},
    )
    status, body = answer(
        Conflict("closed", allowed=[CallStatus.RESOLVED], current_status="on_scene"), json={"text": "x"}
    )
    assert (status, body) == (
        409,
        {"detail": "closed", "allowed": ["resolved"], "current_status": "on_scene"},
    )
    status, body = answer(InvalidInput(("body", "text"), "no such zone"), json={"text": "x"})
    assert status == 422
    assert body == {"detail": [{"type": "value_error", "loc": ["body", "text"], "msg": "no such zone"}]}


def test_every_shared_refusal_has_the_same_body() -> None:
    app = build_app(NotFound("unused"))
    client = TestClient(app, raise_server_exceptions=False)
    answers = {
        401: client.post("/v1/notes", json={"text": "x"}),
        403: client.post("/v1/notes", json={"text": "x"}, headers={"Authorization": f"Bearer {CAD_KEY}"}),
        413: client.post(
            "/v1/notes", json={"text": "x" * 2000}, headers={"Authorization": f"Bearer {OPS_KEY}"}
        ),
        422: client.post("/v1/notes", json={"txt": "x"}, headers={"Authorization": f"Bearer {OPS_KEY}"}),
    }
    client.post("/v1/limited")
    answers[429] = client.post("/v1/limited")
    for status, response in answers.items():
        assert response.status_code == status, response.text
        body = ErrorBody.model_validate(response.json())
        assert isinstance(body.detail, list) == (status == 422), status
        assert set(response.json()) == {"detail"}, status
    assert answers[429].headers["retry-after"]


def test_a_database_outage_is_a_503_error_body() -> None:
    outage = OperationalError("SELECT 1", {}, Exception("connection refused"))
    status, body = answer(outage, json={"text": "x"})
    assert (status, body) == (503, {"detail": "database unavailable, retry shortly"})


@pytest.mark.parametrize(
    ("error", "status", "body"),
    [
        (UnknownCall("c-1"), 404, {"detail": "no call c-1"}),
        (UnknownUnit("CL-9"), 404, {"detail": "no unit CL-9"}),
        (
            UnitBusy("unit CL-1 is on call c-1; resolve or cancel the call first"),
            409,
            {"detail": "unit CL-1 is on call c-1; resolve or cancel the call first", "allowed": []},
        ),
        (
            UnitBusy("not a roster status", allowed=ROSTER_STATUSES),
            409,
            {"detail": "not a roster status", "allowed": [s.value for s in ROSTER_STATUSES]},
        ),
        (StaleOverride("the call changed"), 409, {"detail": "the call changed"}),
    ],
)
def test_routing_domain_errors_map_to_one_shape(
    error: DomainError, status: int, body: dict[str, Any]
) -> None:
    assert (error.status_code, error.body().wire()) == (status, body)
    assert answer(error, json={"text": "x"}) == (status, body)


def test_a_refused_step_names_the_allowed_ones_and_the_current_status() -> None:
    refused = TransitionNotAllowed(CallStatus.ON_SCENE, CallStatus.EN_ROUTE)
    assert refused.status_code == 409
    assert refused.body().wire() == {
        "detail": "a call cannot go from on_scene to en_route; allowed: resolved",
        "allowed": ["resolved"],
        "current_status": "on_scene",
    }
    closed = TransitionNotAllowed(CallStatus.RESOLVED, CallStatus.CANCELLED).body().wire()
    assert closed["allowed"] == [] and closed["current_status"] == "resolved"


def test_backup_for_a_queued_call_is_a_conflict_naming_its_status() -> None:
    with pytest.raises(BackupNotPossible) as raised:
        backup_route(UnitType.POLICE, CallStatus.QUEUED, has_unit=False)
    assert raised.value.status_code == 409
    assert raised.value.body().wire()["current_status"] == "queued"
