"""Which lifecycle steps may follow which, and what a lifecycle report must carry."""

from typing import Any

import pytest
from dispatch_shared.events import CallStatus, UnitStatus
from pydantic import BaseModel, ValidationError
from routing.lifecycle import TransitionNotAllowed, allowed_after, check_transition, unit_status_for
from routing.schemas import NOTES_MAX_CHARS, CallStatusReport, UnitRegistration

HAPPY_PATH = [CallStatus.ASSIGNED, CallStatus.EN_ROUTE, CallStatus.ON_SCENE, CallStatus.RESOLVED]


def test_the_happy_path_is_allowed_step_by_step() -> None:
    for current, following in zip(HAPPY_PATH, HAPPY_PATH[1:], strict=False):
        check_transition(current, following)


@pytest.mark.parametrize(
    ("current", "requested"),
    [
        (CallStatus.QUEUED, CallStatus.EN_ROUTE),  # no unit yet
        (CallStatus.ASSIGNED, CallStatus.RESOLVED),  # resolved only from the scene
        (CallStatus.EN_ROUTE, CallStatus.EN_ROUTE),
        (CallStatus.ON_SCENE, CallStatus.EN_ROUTE),  # never backwards
        (CallStatus.ON_SCENE, CallStatus.CANCELLED),
        (CallStatus.RESOLVED, CallStatus.CANCELLED),
        (CallStatus.CANCELLED, CallStatus.EN_ROUTE),
    ],
)
def test_disallowed_steps_name_the_allowed_ones(current: CallStatus, requested: CallStatus) -> None:
    with pytest.raises(TransitionNotAllowed) as raised:
        check_transition(current, requested)
    assert raised.value.allowed == allowed_after(current)
    assert current.value in str(raised.value) and requested.value in str(raised.value)


def test_closed_calls_allow_nothing() -> None:
    assert allowed_after(CallStatus.RESOLVED) == allowed_after(CallStatus.CANCELLED) == []
    assert "closed" in str(TransitionNotAllowed(CallStatus.RESOLVED, CallStatus.EN_ROUTE))


def test_queued_and_moving_calls_can_be_cancelled() -> None:
    for status in (CallStatus.QUEUED, CallStatus.ASSIGNED, CallStatus.EN_ROUTE):
        check_transition(status, CallStatus.CANCELLED)


def test_the_unit_follows_its_call() -> None:
    assert [unit_status_for(s) for s in HAPPY_PATH] == [
        UnitStatus.DISPATCHED,
        UnitStatus.EN_ROUTE,
        UnitStatus.ON_SCENE,
        UnitStatus.AVAILABLE,
    ]
    assert unit_status_for(CallStatus.CANCELLED) is UnitStatus.AVAILABLE


def error_fields(payload: dict[str, Any], model: type[BaseModel] = CallStatusReport) -> list[str]:
    with pytest.raises(ValidationError) as raised:
        model.model_validate(payload)
    return [".".join(map(str, e["loc"])) for e in raised.value.errors()]


def test_resolving_needs_a_disposition() -> None:
    assert error_fields({"status": "resolved"}) == ["disposition"]
    report = CallStatusReport.model_validate(
        {"status": "resolved", "disposition": "arrest", "use_of_force": True}
    )
    assert (report.disposition, report.use_of_force) == ("arrest", True)


def test_a_disposition_or_force_only_closes_a_call() -> None:
    assert error_fields({"status": "en_route", "disposition": "arrest"}) == ["disposition"]
    assert error_fields({"status": "on_scene", "use_of_force": False}) == ["use_of_force"]
    assert CallStatusReport.model_validate({"status": "cancelled", "disposition": "unfounded"})


def test_reports_reject_unknown_statuses_values_and_fields() -> None:
    assert error_fields({"status": "assigned"}) == ["status"]  # routing's own step, not a report
    assert error_fields({"status": "resolved", "disposition": "vanished"}) == ["disposition"]
    assert error_fields({"status": "en_route", "extra": 1}) == ["extra"]
    assert error_fields({"status": "en_route", "notes": "x" * (NOTES_MAX_CHARS + 1)}) == ["notes"]


def test_notes_lose_invisible_characters_and_controls_keep_words_apart() -> None:
    report = CallStatusReport.model_validate(
        {"status": "cancelled", "notes": "caller\u202e with\u200bdrew\x00call"}
    )
    assert report.notes == "caller withdrew call"


def test_unit_registration_checks_each_field() -> None:
    good = {"unit_id": "CL-1", "type": "clinician", "name": "Clinician 1", "lat": 47.6, "lon": -122.3}
    assert UnitRegistration.model_validate(good).unit_id == "CL-1"
    assert error_fields(good | {"unit_id": "CL 1"}, UnitRegistration) == ["unit_id"]
    assert error_fields(good | {"type": "ambulance"}, UnitRegistration) == ["type"]
    assert error_fields(good | {"lat": 91}, UnitRegistration) == ["lat"]
    assert error_fields(good | {"name": "x" * 101}, UnitRegistration) == ["name"]
    assert error_fields({k: v for k, v in good.items() if k != "lon"}, UnitRegistration) == ["lon"]
    assert error_fields(good | {"status": "on_scene"}, UnitRegistration) == ["status"]
