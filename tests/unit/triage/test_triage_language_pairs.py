"""A Spanish-speaking caller gets the same answer as an English one, and who someone is never counts.

Two data files serve these properties (docs/triage-policy.md: behavior, not identity):

* ``dev_calls_es_en.jsonl``: an English rendering of every labelled Spanish dev call (by ``id``),
  plus Spanish/English pairs of our own that carry their Spanish text and labels with them.
  The Spanish call and its English meaning must decide alike, and both as labelled.
* ``fairness_es.jsonl``: Spanish templates with a ``{d}`` slot, masculine and feminine subjects,
  each with the route family its bare form lands on. Every descriptor (race, national origin,
  immigration status, religion, gender identity, sexual orientation, housing, language,
  disability, diagnosis label) must leave the decision signature as the bare template's.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import pytest
from dispatch_shared.events import Route, TriageDecision
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from triage.policy import classify, default_policy
from triage.policy import invariance_signature as signature

from tests.unit.triage.helpers import read_jsonl

POLICY = default_policy()
SPANISH_DEV = {call["id"]: call for call in read_jsonl("dev_calls_es.jsonl")}
SPANISH_UNSEEN = read_jsonl("spanish_unseen.jsonl")
PAIRS = read_jsonl("dev_calls_es_en.jsonl")
FAIRNESS_ES = read_jsonl("fairness_es.jsonl")
ROUTE_FAMILIES = ("clinician_only", "co_response", "police", "ems")
MIN_TEMPLATES_PER_FAMILY = 10


def _answer(decision: TriageDecision) -> tuple[object, ...]:
    """What a caller is told, in any language: route, threat, priority, crisis and EMS flags."""
    return (
        decision.route,
        decision.threat_level,
        decision.priority,
        decision.crisis,
        decision.ems_required,
        decision.clinician_followup,
    )


def _pair(record: dict[str, Any]) -> tuple[str, str, str | None, dict[str, Any]]:
    """(Spanish, English, call type, labels) of a pair: a dev call by id, or the record's own."""
    call = SPANISH_DEV.get(record["id"], {})
    spanish = record.get("spanish", call.get("narrative"))
    expected = record.get("expected", call.get("expected"))
    assert isinstance(spanish, str) and isinstance(expected, dict), record["id"]
    return spanish, record["english"], call.get("call_type"), expected


def test_every_spanish_dev_call_has_one_english_rendering() -> None:
    ids = Counter(record["id"] for record in PAIRS)
    assert [i for i, n in ids.items() if n > 1] == []
    assert set(SPANISH_DEV) <= set(ids)
    for record in PAIRS:
        # A dev call's Spanish text and labels live in dev_calls_es.jsonl only: one source.
        own = {"spanish", "expected"} & set(record)
        assert own == (set() if record["id"] in SPANISH_DEV else {"spanish", "expected"}), record["id"]


@pytest.mark.parametrize("record", PAIRS, ids=[r["id"] for r in PAIRS])
def test_same_call_same_answer_across_languages(record: dict[str, Any]) -> None:
    spanish, english, call_type, expected = _pair(record)
    es = classify(spanish, call_type, policy=POLICY)
    en = classify(english, call_type, policy=POLICY)
    assert _answer(es) == _answer(en)
    got_es, got_en = es.model_dump(mode="json"), en.model_dump(mode="json")
    assert {k: got_es[k] for k in expected} == expected
    assert {k: got_en[k] for k in expected} == expected
    assert en.language == "en"
    assert es.language in POLICY.languages  # Spanish or, for Spanglish, English: read, not held


# --- Spanish fairness templates ---------------------------------------------------------------


def _fill(template: str, descriptor: str) -> str:
    return re.sub(r"\s+", " ", template.format(d=descriptor)).strip()


def _family(decision: TriageDecision) -> str:
    """The route family a decision belongs to; a medical call with no police need is "ems"."""
    if decision.route is Route.CLINICIAN_ONLY and decision.ems_required:
        return "ems"
    return decision.route.value


def test_spanish_fairness_set_covers_every_route_for_both_genders() -> None:
    per_family = Counter(t["route"] for t in FAIRNESS_ES)
    assert set(per_family) == set(ROUTE_FAMILIES)
    assert min(per_family.values()) >= MIN_TEMPLATES_PER_FAMILY, per_family
    for family in ROUTE_FAMILIES:
        subjects = {t["subject"] for t in FAIRNESS_ES if t["route"] == family}
        assert subjects == {"masculine", "feminine"}, family
    for template in FAIRNESS_ES:
        assert template["descriptors"][0] == "" and len(template["descriptors"]) > 20
        assert template["template"].count("{d}") == 1


@pytest.mark.parametrize("template", FAIRNESS_ES, ids=[t["template_id"] for t in FAIRNESS_ES])
def test_spanish_template_decides_its_route_whatever_the_descriptor(template: dict[str, Any]) -> None:
    bare = classify(_fill(template["template"], ""), policy=POLICY)
    assert _family(bare) == template["route"]
    assert bare.language == "es"
    expected = signature(bare)
    for descriptor in template["descriptors"]:
        for written in (descriptor, descriptor.upper()):  # CAD systems type in capitals
            decision = classify(_fill(template["template"], written), policy=POLICY)
            assert signature(decision) == expected, written


# --- inserting a Spanish descriptor into real-shaped Spanish calls ------------------------------

# A descriptor follows its noun in Spanish and agrees with it: masculine nouns take the masculine
# descriptors of the fairness set, feminine nouns the feminine ones.
_MASCULINE = (
    r"hombre|señor|senor|muchacho|hijo|hermano|esposo|papá|papa|padre|vecino|tío|tio|primo|abuelo|"
    r"novio|sujeto|tipo|chavo|cuñado|sobrino|compañero|marido|vato|chaval|cipote"
)
_FEMININE = (
    r"mujer|señora|senora|muchacha|hija|hermana|esposa|mamá|mama|madre|vecina|tía|tia|prima|abuela|"
    r"abuelita|novia|amiga|sobrina|chica|cajera"
)
PERSON = re.compile(rf"\b(?:(?P<masculine>{_MASCULINE})|(?P<feminine>{_FEMININE}))\b", re.IGNORECASE)
DESCRIPTORS = {
    subject: sorted({d for t in FAIRNESS_ES if t["subject"] == subject for d in t["descriptors"] if d})
    for subject in ("masculine", "feminine")
}
CALLS = [c for c in [*SPANISH_DEV.values(), *SPANISH_UNSEEN] if PERSON.search(c["narrative"])]
SLOW = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


@SLOW
@given(
    call=st.sampled_from(CALLS),
    occurrence=st.integers(min_value=0, max_value=5),
    pick=st.integers(min_value=0, max_value=10_000),
    upper=st.booleans(),
)
def test_inserting_a_spanish_descriptor_never_changes_the_decision(
    call: dict[str, Any], occurrence: int, pick: int, upper: bool
) -> None:
    nouns = list(PERSON.finditer(call["narrative"]))
    noun = nouns[occurrence % len(nouns)]
    choices = DESCRIPTORS["masculine" if noun.group("masculine") else "feminine"]
    descriptor = choices[pick % len(choices)]
    descriptor = descriptor.upper() if upper else descriptor
    text = f"{call['narrative'][: noun.end()]} {descriptor}{call['narrative'][noun.end() :]}"
    before = classify(call["narrative"], call.get("call_type"), policy=POLICY)
    after = classify(text, call.get("call_type"), policy=POLICY)
    assert signature(after) == signature(before)
