"""What intake accepts from CAD, the field it names when it refuses, and what counts as a change."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from dispatch_shared.events import Location
from intake.revisions import (
    IncidentVersion,
    Note,
    changed_fields,
    compose_call_text,
    next_revision,
    precedence,
)
from intake.schemas import NARRATIVE_MAX_CHARS, NOTE_MAX_CHARS, CallSubmission, NoteSubmission
from pydantic import ValidationError

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def error_fields(payload: dict[str, Any]) -> set[str]:
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
def test_bad_input_names_the_field_at_fault(payload: dict[str, Any], field: str) -> None:
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


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({}, "text"),
        ({"text": ""}, "text"),
        ({"text": "   "}, "text"),
        ({"text": "x" * (NOTE_MAX_CHARS + 1)}, "text"),
        ({"text": "x", "at": "2026-01-01T00:00:00"}, "at"),
        ({"text": "x", "at": "1999-12-31T23:00:00+00:00"}, "at"),
        ({"text": "x", "at": "9999-12-31T23:00:00+00:00"}, "at"),
        ({"text": "x", "surprise": 1}, "surprise"),
    ],
)
def test_a_bad_note_names_the_field_at_fault(payload: dict[str, Any], field: str) -> None:
    with pytest.raises(ValidationError) as raised:
        NoteSubmission.model_validate(payload)
    assert field in {".".join(str(p) for p in error["loc"]) for error in raised.value.errors()}


def test_a_note_is_cleaned_like_a_narrative_and_its_time_is_optional() -> None:
    note = NoteSubmission.model_validate({"text": "  now has a\u200b knife\r\n"})
    assert note.text == "now has a knife" and note.at is None
    assert NoteSubmission(text="x", at=T0).at == T0


def version(
    narrative: str = "Man talking to himself", call_type: str | None = "MNTL", **location: Any
) -> IncidentVersion:
    return IncidentVersion(narrative, call_type, Location(**location) if location else None)


@pytest.mark.parametrize(
    ("sent", "changed"),
    [
        (version(), []),
        (version(address=None), []),  # an empty location is no location
        (version(narrative="Man talking to himself, now has a knife"), ["narrative"]),
        (version(narrative="man talking to himself"), ["narrative"]),  # case is wording
        (version(call_type="WEAPON"), ["call_type"]),
        (version(call_type=None), ["call_type"]),
        (version(address="1 Main St"), ["location"]),
        (
            version(narrative="x", call_type=None, lat=47.6, lon=-122.3),
            ["narrative", "call_type", "location"],
        ),
    ],
)
def test_a_resend_is_a_change_when_narrative_call_type_or_location_differ(
    sent: IncidentVersion, changed: list[str]
) -> None:
    assert changed_fields(version(), sent) == changed


def test_a_moved_location_is_a_change_and_the_same_coordinates_are_not() -> None:
    here = version(address="1 Main St", lat=47.6, lon=-122.3)
    assert changed_fields(here, version(address="1 Main St", lat=47.6, lon=-122.3)) == []
    assert changed_fields(here, version(address="1 Main St", lat=47.7, lon=-122.3)) == ["location"]


def test_the_call_text_is_the_current_narrative_then_the_notes_in_time_order() -> None:
    notes = [
        Note(text="third, added late but timed first", at=T0 + timedelta(minutes=1), revision=4),
        Note(text="now has a knife", at=T0 + timedelta(minutes=5), revision=2),
        Note(text="same minute, later revision", at=T0 + timedelta(minutes=5), revision=3),
    ]
    assert compose_call_text("Man talking to himself", notes).split("\n") == [
        "Man talking to himself",
        "third, added late but timed first",
        "now has a knife",
        "same minute, later revision",
    ]


def test_the_call_text_leaves_out_blank_parts_and_keeps_a_notes_own_line_breaks() -> None:
    assert compose_call_text("", [Note(text="caller\nis back", at=T0, revision=2)]) == "caller\nis back"
    assert compose_call_text(None, []) == ""
    assert compose_call_text("only the narrative", []) == "only the narrative"


def test_revisions_count_up_from_one() -> None:
    assert [next_revision(r) for r in (1, 2, 10)] == [2, 3, 11]
    with pytest.raises(ValueError, match="starts at 1"):
        next_revision(0)


@pytest.mark.parametrize(
    ("revision", "decided", "has_route", "expected"),
    [
        (1, None, False, "newer"),  # the first decision of a call
        (1, None, True, "same"),  # routed before triaged, before revisions were tracked
        (2, None, True, "newer"),
        (2, 2, True, "same"),
        (3, 2, True, "newer"),
        (1, 2, True, "older"),  # a late first decision after a re-triage
    ],
)
def test_route_follows_the_newest_revision(
    revision: int, decided: int | None, has_route: bool, expected: str
) -> None:
    assert precedence(revision, decided, has_route=has_route) == expected
