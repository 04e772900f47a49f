"""What intake accepts from CAD, and the field it names when it refuses."""

import pytest
from intake.schemas import NARRATIVE_MAX_CHARS, CallSubmission
from pydantic import ValidationError


def error_fields(payload: dict) -> set[str]:
    with pytest.raises(ValidationError) as raised:
        CallSubmission.model_validate(payload)
    return {".".join(str(p) for p in error["loc"]) for error in raised.value.errors()}


def test_a_narrative_or_a_call_type_is_enough() -> None:
    assert CallSubmission(cad_incident_id="A", narrative="hearing voices").call_type is None
    assert CallSubmission(cad_incident_id="A", call_type="SUICTHRT").narrative == ""


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"narrative": "x"}, "cad_incident_id"),
        ({"cad_incident_id": "", "narrative": "x"}, "cad_incident_id"),
        ({"cad_incident_id": "has space", "narrative": "x"}, "cad_incident_id"),
        ({"cad_incident_id": "A"}, "narrative"),
        ({"cad_incident_id": "A", "narrative": "   "}, "narrative"),
        ({"cad_incident_id": "A", "narrative": 5}, "narrative"),
        ({"cad_incident_id": "A", "narrative": "x" * (NARRATIVE_MAX_CHARS + 1)}, "narrative"),
        ({"cad_incident_id": "A", "narrative": "x", "location": {"lat": 91}}, "location.lat"),
        ({"cad_incident_id": "A", "narrative": "x", "location": {"lon": -181}}, "location.lon"),
        ({"cad_incident_id": "A", "narrative": "x", "received_at": "2026-01-01T00:00:00"}, "received_at"),
        ({"cad_incident_id": "A", "narrative": "x", "surprise": 1}, "surprise"),
        ({"cad_incident_id": "A", "narrative": "x", "received_at": "0001-01-01T00:00+05:00"}, "received_at"),
        ({"cad_incident_id": "A", "narrative": "x", "received_at": "9999-12-31T23:00-05:00"}, "received_at"),
        ({"cad_incident_id": "A", "narrative": "x", "location": {"address": "x" * 501}}, "location.address"),
        ({"cad_incident_id": "A", "narrative": "x", "caller": {"ssn": "1"}}, "caller.ssn"),
    ],
)
def test_bad_input_names_the_field_at_fault(payload: dict, field: str) -> None:
    assert field in error_fields(payload)


def test_text_is_normalised_invisible_characters_dropped_and_controls_keep_words_apart() -> None:
    call = CallSubmission(
        cad_incident_id="A",
        narrative="Cafe\u0301 owner says\u200b man is\x00yelling\r\nat cars\x85wants to ki\u200bll",
        call_type=" MNTL\u202e ",
        location={"address": "1 Main\x1fSt\u200b"},
    )
    assert call.narrative == "Caf\u00e9 owner says man is yelling\nat cars\nwants to kill"
    assert call.call_type == "MNTL"
    assert call.location is not None and call.location.address == "1 Main St"
