"""NENA EIDO to call and back: the pure mapping of ``intake.eido``, the real triage engine on it,
and the export validated against NENA's schema with a JSON-schema validator."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from uuid import uuid4

import jsonschema
import pytest
import referencing
import yaml
from dispatch_shared.events import CallStatus, Route
from intake import eido
from intake.api.eido_examples import EXPORTED, NOTIFIED, SUBMIT_EXAMPLES, SUBMITTED
from intake.models import Call
from intake.schemas import NARRATIVE_MAX_CHARS, CallSubmission
from pydantic import ValidationError
from referencing.jsonschema import DRAFT4
from triage.policy import classify, default_policy

from tests.conftest import eido_schema_dir
from tests.factories import T0

DATA = Path(__file__).resolve().parents[1] / "data" / "eido"
POLICY = default_policy()
DESCRIPTORS = ("Pacific Islander", "Samoan", "grey hoodie")


def fixture(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return document


def minimal(**extra: Any) -> dict[str, Any]:
    """The smallest EIDO intake takes: the prologue's $id and the three required components."""
    return {
        "$id": f"urn:emergency:uid:incidentid:{uuid4().hex[:12]}:psap.example.org",
        "eidoVersion": "1.0",
        "issuingElementIdentification": "cad.psap.example.org",
        "agencyComponent": [{"$id": "psap.example.org"}],
        **extra,
    }


def note(text: str, at: str | None, note_id: str | None = None) -> dict[str, Any]:
    found: dict[str, Any] = {"$id": note_id or str(uuid4()), "notesActionComments": text}
    if at is not None:
        found["lastUpdateTimeStamp"] = at
    return found


def pidf(inner: str) -> str:
    return (
        '<presence xmlns="urn:ietf:params:xml:ns:pidf" xmlns:gp="urn:ietf:params:xml:ns:pidf:geopriv10" '
        'xmlns:gml="http://www.opengis.net/gml" xmlns:gs="http://www.opengis.net/pidflo/1.0" '
        'xmlns:ca="urn:ietf:params:xml:ns:pidf:geopriv10:civicAddr" entity="pres:x@example.org">'
        f"<tuple id='t'><status><gp:geopriv><gp:location-info>{inner}</gp:location-info>"
        "</gp:geopriv></status></tuple></presence>"
    )


# --- what an EIDO maps to ---------------------------------------------------------------------


def test_a_call_transfer_without_incident_or_notes_is_held_for_review() -> None:
    received = eido.read_eido(fixture("call-transfer.json"))
    call = received.submission
    assert call.cad_incident_id == "eido:urn:emergency:uid:incidentid:7f3c2e91b04:psap.example.org"
    assert call.call_type is None
    assert call.narrative == eido.NO_NOTES_NARRATIVE
    assert call.location is not None
    assert call.location.address == "118 E Alder Street, Eugene, OR 97401, US"
    assert call.received_at is not None and call.received_at.isoformat() == "2026-11-29T09:11:30-05:00"
    decision = classify(call.narrative, call.call_type, policy=POLICY)
    assert decision.needs_review and not decision.indicators


def test_an_incident_type_without_notes_leaves_the_narrative_empty_and_triage_holds_it() -> None:
    call = eido.read_eido(minimal(incidentComponent={"incidentTypeCommonRegistryText": "Suicide"})).submission
    assert (call.narrative, call.call_type) == ("", "Suicide")
    assert classify(call.narrative, call.call_type, policy=POLICY).needs_review


@pytest.mark.parametrize("name", ["EidoWithJcard.json", "NotifyWithEido.json"])
def test_the_published_samples_are_read_alike_wrapped_or_not(name: str) -> None:
    received = eido.read_eido(fixture(name))
    assert received.eido_id == "urn:emergency:uid:incidentid:a56e556d871:bcf.state.pa.us"
    assert received.submission.cad_incident_id == "eido:" + received.eido_id
    assert received.submission.location is not None
    assert received.submission.location.address == "42 W Cellular Street, Wilmington, DE, US"
    # The document kept for audit is the EIDO itself, not the notify wrapper.
    assert json.loads(received.document)["$id"] == received.eido_id


def test_notes_become_the_narrative_in_time_order_as_plain_text() -> None:
    received = eido.read_eido(fixture("bridge-railing.json"))
    assert received.submission.narrative == (
        "Caller driving past sees a man sitting on the bridge railing.\n"
        "He says he is going to jump & nobody can stop him."
    )
    assert received.submission.call_type == "Suicide"


def test_a_person_on_a_bridge_railing_threatening_to_jump_is_co_response() -> None:
    call = eido.read_eido(fixture("bridge-railing.json")).submission
    decision = classify(call.narrative, call.call_type, policy=POLICY)
    assert decision.route is Route.CO_RESPONSE
    assert not decision.needs_review


def test_times_in_any_offset_order_notes_and_untimed_notes_come_last() -> None:
    document = minimal(
        notesComponent=[
            note("third, untimed", None),
            note("second", "2026-11-29T10:00:00-05:00"),  # 15:00 UTC
            note("first", "2026-11-29T06:30:00-08:00"),  # 14:30 UTC
            note("<b>fourth</b>,<br>untimed too", None),
        ]
    )
    narrative = eido.read_eido(document).submission.narrative
    assert narrative.split("\n") == ["first", "second", "third, untimed", "fourth,", "untimed too"]


def test_html_notes_lose_tags_scripts_and_entities_and_keep_line_breaks() -> None:
    assert eido.html_text(
        "<p>Man&nbsp;on  the\n roof</p><script>alert(1)</script><p>says &lt;jump&gt;</p>"
    ) == ("Man on the\nroof\nsays <jump>")
    assert eido.html_text("plain text, 3 < 5") == "plain text, 3 < 5"


def test_person_descriptors_never_reach_the_call() -> None:
    received = eido.read_eido(fixture("bridge-railing.json"))
    submitted = received.submission.model_dump_json()
    for descriptor in DESCRIPTORS:
        assert descriptor not in submitted
    # The audit copy is the EIDO as sent, descriptors included; retention clears it.
    assert all(descriptor in received.document for descriptor in DESCRIPTORS)


def test_a_note_a_person_shares_with_the_incident_is_kept() -> None:
    document = fixture("bridge-railing.json")
    shared_note = "5e0f8d7c-1a2b-4c3d-8e9f-00a1b2c3d413"
    document["incidentComponent"]["notesReference"].append({"$ref": shared_note})
    assert "Pacific Islander" in eido.read_eido(document).submission.narrative


@pytest.mark.parametrize(
    ("location", "expected"),
    [
        ("<gml:Point><gml:pos>45.5 -122.6</gml:pos></gml:Point>", {"lat": 45.5, "lon": -122.6}),
        (
            "<gs:Ellipse><gml:pos>10 20</gml:pos><gs:semiMajorAxis>5</gs:semiMajorAxis></gs:Ellipse>",
            {"lat": 10.0, "lon": 20.0},
        ),
        (
            "<gml:Polygon><gml:exterior><gml:LinearRing><gml:pos>0 0</gml:pos><gml:pos>0 2</gml:pos>"
            "<gml:pos>2 2</gml:pos><gml:pos>2 0</gml:pos><gml:pos>0 0</gml:pos>"
            "</gml:LinearRing></gml:exterior></gml:Polygon>",
            {"lat": 1.0, "lon": 1.0},
        ),
        ("<gml:Point><gml:pos>95 10</gml:pos></gml:Point>", None),
        ("<gml:Point><gml:pos>north east</gml:pos></gml:Point>", None),
        (
            "<ca:civicAddress><ca:HNO>9</ca:HNO><ca:HNS>B</ca:HNS><ca:RD>Oak</ca:RD><ca:STS>Lane</ca:STS>"
            "<ca:LOC>Apt 4</ca:LOC><ca:A3>Bend</ca:A3><ca:A1>OR</ca:A1></ca:civicAddress>",
            {"address": "9B Oak Lane, Apt 4, Bend, OR"},
        ),
    ],
)
def test_pidf_lo_shapes_give_coordinates_or_an_address(
    location: str, expected: dict[str, Any] | None
) -> None:
    assert eido.pidf_location(pidf(location)) == expected


def test_a_pidf_lo_with_a_dtd_or_not_xml_gives_no_location() -> None:
    entity_bomb = '<?xml version="1.0"?><!DOCTYPE p [<!ENTITY a "aaaa">]><presence>&a;</presence>'
    assert eido.pidf_location(entity_bomb) is None
    assert eido.pidf_location("<presence><unclosed></presence>") is None


def test_the_incident_location_is_chosen_over_the_caller_and_staging_is_never_used() -> None:
    here = pidf("<gml:Point><gml:pos>1 1</gml:pos></gml:Point>")
    there = pidf("<gml:Point><gml:pos>2 2</gml:pos></gml:Point>")
    document = minimal(
        locationComponent=[
            {"$id": "s", "locationTypeDescriptionRegistryText": "Staging", "locationByValue": there},
            {"$id": "c", "locationTypeDescriptionRegistryText": "Caller", "locationByValue": there},
            {"$id": "i", "locationTypeDescriptionRegistryText": "Incident", "locationByValue": here},
        ]
    )
    location = eido.read_eido(document).submission.location
    assert location is not None and (location.lat, location.lon) == (1.0, 1.0)
    only_staging = minimal(locationComponent=document["locationComponent"][:1])
    assert eido.read_eido(only_staging).submission.location is None


# --- what is refused --------------------------------------------------------------------------


def test_every_missing_required_component_is_named() -> None:
    with pytest.raises(eido.EidoInvalid) as refused:
        eido.read_eido({"notesComponent": [note("Man on the bridge railing", None)]})
    missing = {tuple(error["loc"]) for error in refused.value.errors if error["type"] == "missing"}
    assert missing == {
        ("body", "$id"),
        ("body", "eidoVersion"),
        ("body", "issuingElementIdentification"),
        ("body", "agencyComponent"),
    }
    # No error echoes what was sent: a note's text is health information.
    assert "bridge" not in json.dumps(refused.value.errors)


def test_a_notify_message_is_located_inside_its_notification() -> None:
    with pytest.raises(eido.EidoInvalid) as refused:
        eido.read_eido({"event": {"subscriptionId": "s", "notification": [{"$id": "x"}]}})
    assert ["body", "event", "notification", 0, "eidoVersion"] in [e["loc"] for e in refused.value.errors]
    with pytest.raises(eido.EidoInvalid):
        eido.read_eido({"event": {"notification": [minimal(), minimal()]}})


@pytest.mark.parametrize(
    ("changes", "loc"),
    [
        ({"eidoVersion": "2.0"}, ["body", "eidoVersion"]),
        ({"agencyComponent": []}, ["body", "agencyComponent"]),
        ({"notesComponent": [{"$id": "n"}]}, ["body", "notesComponent", 0, "notesActionComments"]),
        (
            {"notesComponent": [note("x", "2026-11-29T10:00:00")]},
            ["body", "notesComponent", 0, "lastUpdateTimeStamp"],
        ),
        (
            {"incidentComponent": {"incidentTypeCommonRegistryText": 7}},
            ["body", "incidentComponent", "incidentTypeCommonRegistryText"],
        ),
        (
            {"incidentComponent": {"incidentTypeCommonRegistryText": "x" * 201}},
            ["body", "incidentComponent", "incidentTypeCommonRegistryText"],
        ),
        ({"notesComponent": [note("x" * (NARRATIVE_MAX_CHARS + 1), None)]}, ["body", "notesComponent"]),
        (
            {"callComponent": [{"callStartTimestamp": "1999-01-01T00:00:00Z"}]},
            ["body", "callComponent", "callStartTimestamp"],
        ),
    ],
)
def test_a_malformed_or_oversized_part_is_named(changes: dict[str, Any], loc: list[Any]) -> None:
    with pytest.raises(eido.EidoInvalid) as refused:
        eido.read_eido(minimal(**changes))
    assert loc in [error["loc"] for error in refused.value.errors]


@pytest.mark.parametrize("body", [[], "eido", 3, None])
def test_a_body_that_is_not_an_object_is_refused(body: Any) -> None:
    with pytest.raises(eido.EidoInvalid):
        eido.read_eido(body)


# --- the incident key -------------------------------------------------------------------------


def test_incident_keys_fit_a_cad_id_and_never_collide() -> None:
    long_id = "urn:emergency:uid:incidentid:" + "a" * 80 + ":psap.example.org"
    keys = {
        eido.incident_key(eido_id)
        for eido_id in ("short", long_id, long_id + "b", "with space", "sha256:abc", "écho")
    }
    assert len(keys) == 6
    for key in keys:
        assert key.startswith("eido:") and len(key) <= 64
        CallSubmission.model_validate({"cad_incident_id": key, "narrative": "x"}, context={"source": "eido"})
    assert eido.incident_key("short") == "eido:short"
    assert eido.incident_key(long_id) == eido.incident_key(long_id)


def test_cad_ids_may_not_take_the_eido_prefix() -> None:
    with pytest.raises(ValidationError, match="eido:"):
        CallSubmission.model_validate({"cad_incident_id": "eido:urn:x", "narrative": "Man on a ledge"})
    CallSubmission.model_validate({"cad_incident_id": "EIDO-17", "narrative": "Man on a ledge"})


# --- export -----------------------------------------------------------------------------------


def repaired(node: Any) -> Any:
    """The schema with its one typo mended: AgentType's ``minItems: 1,`` (a string) becomes 1."""
    if isinstance(node, dict):
        return {
            key: int(value.rstrip(",")) if key == "minItems" and isinstance(value, str) else repaired(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [repaired(item) for item in node]
    return node


@cache
def eido_schema() -> jsonschema.protocols.Validator:
    """A validator for NENA's EmergencyIncidentDataObjectType, its NIEM references resolved from disk."""
    main = eido_schema_dir() / "openapi.yaml"  # skips the test without NENA's schema

    def retrieve(uri: str) -> referencing.Resource[Any]:
        path = Path(uri.removeprefix("file://"))
        return DRAFT4.create_resource(repaired(yaml.safe_load(path.read_text(encoding="utf-8"))))

    registry: referencing.Registry[Any] = referencing.Registry(retrieve=retrieve)  # type: ignore[call-arg]
    root = {"$ref": f"{main.as_uri()}#/components/schemas/EmergencyIncidentDataObjectType"}
    return jsonschema.Draft4Validator(root, registry=registry, format_checker=jsonschema.FormatChecker())


def schema_errors(document: dict[str, Any]) -> list[str]:
    return [error.message for error in eido_schema().iter_errors(document)]


def ledger_call(**fields: Any) -> Call:
    values: dict[str, Any] = {
        "call_id": str(uuid4()),
        "cad_incident_id": "CAD-1",
        "narrative": "Man sitting on the bridge railing, says he will jump",
        "call_type": "SUICTHRT",
        "received_at": T0,
        "updated_at": T0,
    }
    return Call(**(values | fields))


def test_the_validator_accepts_nena_shaped_eidos_and_refuses_broken_ones() -> None:
    # Can the check fail? The official call-transfer sample validates; the jCard sample spells
    # its prologue's timestamp differently, so the schema refuses it.
    assert schema_errors(fixture("call-transfer.json")) == []
    official = json.loads((eido_schema_dir() / "sample-call-transfer-eido.json").read_text(encoding="utf-8"))
    assert schema_errors(official) == []
    assert any("lastUpdateTimeStamp" in message for message in schema_errors(fixture("EidoWithJcard.json")))


def test_a_new_call_exports_as_a_valid_eido() -> None:
    call = ledger_call(call_type=None)
    document = eido.call_as_eido(call, eido_id=None, agency_id="psap.example.org")
    assert schema_errors(document) == []
    assert document["$id"].startswith("urn:emergency:uid:incidentid:")
    assert document["incidentComponent"]["incidentTypeCommonRegistryText"] == "Unknown"
    assert "dispatchComponent" not in document
    assert call.narrative is not None and "bridge" not in json.dumps(document)


def test_a_triaged_assigned_call_exports_decision_location_and_unit() -> None:
    decision = classify("Man sitting on the bridge railing, says he will jump", policy=POLICY)
    call = ledger_call(
        status=CallStatus.EN_ROUTE,
        route=decision.route,
        priority=decision.priority,
        threat_level=decision.threat_level,
        decision=decision.model_dump_json(),
        address="Aurora Bridge, Seattle, WA",
        lat=47.6475,
        lon=-122.3472,
        assigned_unit_id="CR-7",
        assigned_unit_type="co_response",
    )
    eido_id = "urn:emergency:uid:incidentid:c41d9a0e2b7:psap.example.org"
    document = eido.call_as_eido(call, eido_id=eido_id, agency_id="psap.example.org")
    assert schema_errors(document) == []
    incident = document["incidentComponent"]
    assert document["$id"] == eido_id
    assert incident["incidentTypeInternalCode"] == decision.route == Route.CO_RESPONSE
    assert incident["incidentCommonPriorityNumber"] == decision.priority
    assert incident["incidentTypeInternalText"] == decision.explanation
    assert incident["incidentStatusInternalText"] == ["en_route"]
    (resource,) = document["emergencyResourceComponent"]
    assert (resource["emergencyResourceName"], resource["primaryUnitStatusRegistryText"]) == (
        "CR-7",
        "Enroute",
    )
    (dispatch,) = document["dispatchComponent"]
    assert dispatch["emergencyResourceReference"] == [{"$ref": resource["$id"]}]
    (location,) = document["locationComponent"]
    assert incident["locationReference"] == [{"$ref": location["$id"]}]
    # The exported point reads back as the call's coordinates.
    assert eido.pidf_location(location["locationByValue"]) == {"lat": 47.6475, "lon": -122.3472}
    # Breaking a required part is caught: the check is not vacuous.
    broken = copy.deepcopy(document)
    del broken["emergencyResourceComponent"][0]["primaryUnitStatusRegistryText"]
    assert schema_errors(broken)


def test_a_held_call_says_so_in_its_status() -> None:
    decision = classify(eido.NO_NOTES_NARRATIVE, policy=POLICY)
    call = ledger_call(decision=decision.model_dump_json(), route=decision.route, priority=decision.priority)
    document = eido.call_as_eido(call, eido_id=None, agency_id="psap.example.org")
    assert document["incidentComponent"]["incidentStatusInternalText"] == ["received", "needs_review"]
    assert schema_errors(document) == []


# --- the OpenAPI examples ---------------------------------------------------------------------


def test_the_submit_examples_are_one_call_that_goes_co_response() -> None:
    assert [example["value"] for example in SUBMIT_EXAMPLES.values()] == [SUBMITTED, NOTIFIED]
    bare, notified = eido.read_eido(SUBMITTED).submission, eido.read_eido(NOTIFIED).submission
    assert notified == bare
    assert bare.call_type == "Suicide"
    assert bare.narrative is not None and bare.narrative.endswith("He says he is going to jump.")
    assert bare.location is not None and (bare.location.lat, bare.location.lon) == (47.6475, -122.3472)
    assert classify(bare.narrative, bare.call_type, policy=POLICY).route is Route.CO_RESPONSE


def test_the_export_example_is_the_export_of_the_submitted_call() -> None:
    submission = eido.read_eido(SUBMITTED).submission
    assert submission.narrative is not None and submission.location is not None
    decision = classify(submission.narrative, submission.call_type, policy=POLICY)
    incident = EXPORTED["incidentComponent"]
    (unit,) = EXPORTED["emergencyResourceComponent"]
    at = datetime.fromisoformat(EXPORTED["lastUpdateTimeStamp"])
    call = ledger_call(
        call_id=incident["internalIncidentId"],
        cad_incident_id=submission.cad_incident_id,
        narrative=submission.narrative,
        call_type=submission.call_type,
        address=submission.location.address,
        lat=submission.location.lat,
        lon=submission.location.lon,
        status=CallStatus.ASSIGNED,
        route=decision.route,
        priority=decision.priority,
        threat_level=decision.threat_level,
        decision=decision.model_dump_json(),
        assigned_unit_id=unit["emergencyResourceName"],
        assigned_unit_type=unit["emergencyResourceTypeCommonRegistryText"],
        received_at=at,
        updated_at=at,
    )
    assert eido.call_as_eido(call, eido_id=SUBMITTED["$id"], agency_id="psap.example.org") == EXPORTED
    assert schema_errors(EXPORTED) == []
