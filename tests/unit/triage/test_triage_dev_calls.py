"""The labelled dev calls, the fairness set and the five-city call types (docs/triage-policy.md)."""

from __future__ import annotations

import csv
import re
from typing import Any

import pytest
from dispatch_shared.events import Route, ThreatLevel
from triage.policy import classify, default_policy

from tests.unit.triage.helpers import DATA, read_jsonl, signature

POLICY = default_policy()
DEV_CALLS = read_jsonl("dev_calls.jsonl")
FAIRNESS = read_jsonl("fairness.jsonl")


@pytest.mark.parametrize("call", DEV_CALLS, ids=[c["id"] for c in DEV_CALLS])
def test_dev_call_gets_expected_decision(call: dict[str, Any]) -> None:
    decision = classify(call["narrative"], call.get("call_type"), policy=POLICY)
    expected = {"needs_review": False, **call["expected"]}
    got = decision.model_dump(mode="json")
    assert {k: got[k] for k in expected} == expected
    assert decision.policy_version == POLICY.version
    assert decision.rule and decision.explanation.endswith(".")


def _blank(template: str, descriptor: str) -> str:
    return re.sub(r"\s+", " ", template.format(d=descriptor)).strip()


@pytest.mark.parametrize("template", FAIRNESS, ids=[t["template_id"] for t in FAIRNESS])
def test_fairness_template_is_invariant_to_descriptors(template: dict[str, Any]) -> None:
    blank = signature(classify(_blank(template["template"], ""), policy=POLICY))
    for descriptor in template["descriptors"]:
        assert signature(classify(_blank(template["template"], descriptor), policy=POLICY)) == blank, (
            descriptor
        )


def _five_city(category: str) -> list[str]:
    with (DATA / "vera-calltypes.csv").open(encoding="utf-8", errors="replace", newline="") as handle:
        return sorted(
            {r["Field 1"] for r in csv.DictReader(handle) if (r["Category"] or "").strip() == category}
        )


def test_five_city_behavioral_call_types_raise_crisis_or_ems() -> None:
    types = _five_city("Behavioral Health")
    missed = [t for t in types if not (lambda d: d.crisis or d.ems_required)(classify("", t, policy=POLICY))]
    assert len(types) > 40
    assert len(missed) <= 0.1 * len(types), missed


def test_five_city_violent_crime_never_goes_clinician_only() -> None:
    types = _five_city("Violent Crime")
    assert len(types) > 100
    assert [t for t in types if classify("", t, policy=POLICY).route is Route.CLINICIAN_ONLY] == []


@pytest.mark.parametrize(
    ("call_type", "route", "threat"),
    [
        ("SUICTHRT", Route.CLINICIAN_ONLY, ThreatLevel.NONE),
        ("MTLV", Route.CO_RESPONSE, ThreatLevel.HIGH),
        ("WEAPON", Route.POLICE, ThreatLevel.ELEVATED),
        ("SHOOT", Route.POLICE, ThreatLevel.IMMINENT),
        ("127B_Suicide Threat Pst Weapon", Route.CO_RESPONSE, ThreatLevel.HIGH),
        ("121C_Mental Disordr NonViolent", Route.CLINICIAN_ONLY, ThreatLevel.NONE),
        ("MENTAL VIOLENT NOT ARMED", Route.CO_RESPONSE, ThreatLevel.HIGH),
        ("SUICIDE - IP/JO SUICIDAL PERSON AND ATTEMPTS", Route.CLINICIAN_ONLY, ThreatLevel.NONE),
        ("ASLT - IP/JO - PERSON SHOT OR SHOT AT", Route.POLICE, ThreatLevel.IMMINENT),
        ("welfare", Route.CLINICIAN_ONLY, ThreatLevel.NONE),
    ],
)
def test_call_type_alone_is_triaged_and_reviewed(call_type: str, route: Route, threat: ThreatLevel) -> None:
    decision = classify("", call_type, policy=POLICY)
    assert (decision.route, decision.threat_level, decision.needs_review) == (route, threat, True)
    assert all(i.source == "call_type" and i.text == call_type for i in decision.indicators)


def test_call_type_safety_survives_narrative_negation() -> None:
    decision = classify("No weapons seen, subject is calm.", "MENTAL VIOLENT - ARMED", policy=POLICY)
    assert decision.threat_level is ThreatLevel.HIGH
    assert decision.route is Route.CO_RESPONSE
    assert not decision.needs_review


def test_empty_everything_goes_to_police_for_review() -> None:
    for narrative in ["", "   ", "\n\t"]:
        decision = classify(narrative, None, policy=POLICY)
        assert (decision.route, decision.priority, decision.needs_review) == (Route.POLICE, 4, True)
        assert decision.rule == "R6_nothing_fired"
