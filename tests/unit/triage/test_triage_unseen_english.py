"""English calls written for this project and labelled from the policy before the classifier read them.

Each kind of reading the policy asks for has a few calls and near misses that must not fire:
protocol answers ("CONSCIOUS: NO", and answers split by " / " or "|"), a threat to jump with a
height in the sentence, assault verbs and bare role nouns ("PUNCHED NURSE"), improvised weapons
used on a person, a suicide threat with a weapon on the person, implicit suicidal statements,
whose behaviour a phrase describes, paranoid delusions reported with "says" or "screaming that",
past violence (a stated history of violence), medical events "in progress", hypothetical
questions, animals barking and a detained shoplifter.
"""

from __future__ import annotations

from typing import Any

import pytest
from dispatch_shared.events import Route
from triage.policy import classify

from tests.unit.triage.helpers import codes, negated_codes, read_jsonl

UNSEEN = read_jsonl("english_unseen.jsonl")
# Labelled calls the policy still misreads, each with why; strict, so a fix must remove it here.
KNOWN_GAPS: dict[str, str] = {}
SEVERITY = {Route.CLINICIAN_ONLY: 0, Route.CO_RESPONSE: 1, Route.POLICE: 2}


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(c, marks=pytest.mark.xfail(reason=KNOWN_GAPS[c["id"]], strict=True))
        if c["id"] in KNOWN_GAPS
        else c
        for c in UNSEEN
    ],
    ids=[c["id"] for c in UNSEEN],
)
def test_unseen_english_call(call: dict[str, Any]) -> None:
    got = classify(call["narrative"], call.get("call_type")).model_dump(mode="json")
    expected = call["expected"]
    assert {k: got[k] for k in expected} == expected


def test_unseen_english_calls_are_never_under_escalated() -> None:
    assert len(UNSEEN) >= 100
    unsafe = [
        c["id"]
        for c in UNSEEN
        if SEVERITY[classify(c["narrative"], c.get("call_type")).route]
        < SEVERITY[Route(c["expected"]["route"])]
    ]
    assert unsafe == []


# A past act of force is a stated history of violence when the call is about something now; a
# victim's past ("was assaulted") is not, and a call about nothing but the past fires nothing.
@pytest.mark.parametrize(
    ("narrative", "history", "removed"),
    [
        ("SON PULLED A KNIFE ON HIS BROTHER LAST MONTH. TONIGHT HE IS PACING", True, "weapon_brandished"),
        ("Two years ago he stabbed someone, now he is hearing voices", True, "person_shot_or_stabbed"),
        ("he hit his mother back in 2015, now he is hearing voices", True, "violence"),
        ("He was stabbed in 2019 and now he is paranoid", False, "person_shot_or_stabbed"),
        ("She was brutally attacked last year, tonight she is hearing voices", False, "violence"),
        ("he was hit by his father years ago, now he is hearing voices", False, "violence"),
        ("Last week my neighbor punched his brother", False, "violence"),
    ],
)
def test_past_violence_is_a_history_of_violence(narrative: str, history: bool, removed: str) -> None:
    decision = classify(narrative)
    assert ("history_of_violence" in codes(decision)) is history
    assert removed in negated_codes(decision)
    assert removed not in codes(decision)


@pytest.mark.parametrize(
    ("narrative", "fired", "negated"),
    [
        # The value of one protocol field does not reach the next one, either way.
        ("SUICIDAL YES / WEAPONS: NO", "suicidal_ideation", "weapon"),
        ("WPNS: NEG / SI: YES", "suicidal_ideation", "weapon"),
        ("WEAPONS: NONE | SUBJ TALKING TO HIMSELF", "erratic_behavior", "weapon"),
        # A value closed by a clause boundary word is a whole answer.
        ("weapons: none but he is hearing voices", "psychosis", "weapon"),
        # A state that began in the past still holds.
        ("Two days ago she stopped taking her lithium, she is hearing voices", "off_medication", None),
        ("He hasn't eaten since last week, he is confused", "welfare_concern", None),
    ],
)
def test_fields_and_onsets(narrative: str, fired: str, negated: str | None) -> None:
    decision = classify(narrative)
    assert fired in codes(decision)
    if negated is not None:
        assert negated in negated_codes(decision)
        assert negated not in codes(decision)
