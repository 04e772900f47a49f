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
from triage.policy import classify

from tests.unit.triage.helpers import (
    codes,
    labelled_params,
    mislabelled,
    negated_codes,
    read_jsonl,
    under_escalated,
)

UNSEEN = read_jsonl("english_unseen.jsonl")
# Labelled calls the policy still misreads, each with why; strict, so a fix must remove it here.
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.parametrize("call", labelled_params(UNSEEN, KNOWN_GAPS))
def test_unseen_english_call(call: dict[str, Any]) -> None:
    assert mislabelled(call) == {}


def test_unseen_english_calls_are_never_under_escalated() -> None:
    assert len(UNSEEN) >= 100
    assert under_escalated(UNSEEN) == []


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


# Spoken calls run clauses together with no punctuation: a new subject and verb ("he's", "she is")
# starts a clause, so a negation in the one before does not reach into it. A denial or a question
# about the clause ("denies he has", "not sure if he has") still governs it.
@pytest.mark.parametrize(
    ("narrative", "fired", "negated"),
    [
        ("he don't drink he's hitting her with a bat", "weapon_used", None),
        ("he doesn't drink he's got a gun and he's waving it around", "weapon_brandished", None),
        ("she doesn't drink or nothing she's hearing voices and screaming", "psychosis", None),
        ("he never hurt nobody he's just confused and wandering", "disorientation", None),
        ("i'm not hurt he's still got the gun he's in the kitchen", "weapon_in_hand", None),
        ("we are not safe they are breaking down the door", "property_destruction", None),
        ("PT denies she is suicidal", None, "suicidal_ideation"),
        ("denies he has a gun", None, "weapon"),
        ("not sure if he has a gun", "weapon", None),
        ("he does not have a gun he is calm", None, "weapon"),
    ],
)
def test_a_new_subject_and_verb_ends_a_negation(
    narrative: str, fired: str | None, negated: str | None
) -> None:
    decision = classify(narrative)
    if fired is not None:
        assert fired in codes(decision)
    if negated is not None:
        assert negated in negated_codes(decision)
        assert negated not in codes(decision)
