"""Triage on real call language: the field-style calls, and more calls of each kind they exercise.

The field-style calls (``tests/data/field_calls.jsonl``) are written like CAD narratives, protocol
answers and clinical screening notes; each names the feature it tests. The table below holds
further calls of the same kinds in other words: suicide threats are self-directed, harm verbs
with two objects ("kill somebody or himself"), passive death wishes, double negation, CAD
violence shorthand, violence verbs aimed at objects, post-posed and list negation, a victim's
fear, a relayer's role, overdose by amount, delusions of poisoning, protocol determinants,
call-type qualifiers, and labels or places that must fire nothing.
"""

from __future__ import annotations

from typing import Any

import pytest
from triage.policy import classify

from tests.unit.triage.helpers import codes, negated_codes, read_jsonl

FIELD_CALLS = read_jsonl("field_calls.jsonl")
UNSAFE = {("clinician_only", "co_response"), ("clinician_only", "police"), ("co_response", "police")}


@pytest.mark.parametrize("call", FIELD_CALLS, ids=[c["id"] for c in FIELD_CALLS])
def test_field_call(call: dict[str, Any]) -> None:
    decision = classify(call["narrative"], call.get("call_type"))
    got = decision.model_dump(mode="json")
    expected = call["expected"]
    assert {k: got[k] for k in expected} == expected, call["feature"]


def test_no_field_call_is_under_escalated() -> None:
    routes = [
        (classify(c["narrative"], c.get("call_type")).route.value, c["expected"]["route"])
        for c in FIELD_CALLS
    ]
    assert [pair for pair in routes if pair in UNSAFE] == []


KINDS: list[tuple[str, str | None, str, str, int]] = [
    ("HUSBAND THREATENING SUICIDE AFTER ARGUMENT, NO WEAPONS IN HOME", None, "clinician_only", "none", 2),
    ("daughter has been making suicidal threats all evening", None, "clinician_only", "none", 2),
    (
        "Caller says her son threatened to commit suicide by text an hour ago",
        None,
        "clinician_only",
        "none",
        2,
    ),
    ("SUBJ VOICING SUICIDE THREATS TO STAFF AT THE GROUP HOME", None, "clinician_only", "none", 2),
    ("he keeps saying he wants the cops to shoot him", None, "co_response", "high", 1),
    ("man outside yelling for police to shoot me", None, "co_response", "high", 1),
    ("says he will hurt his mother and then himself", None, "co_response", "high", 2),
    ("threatening to kill her boyfriend and herself", None, "co_response", "high", 2),
    ("going to hurt herself or somebody else if they don't leave", None, "co_response", "high", 2),
    ("mother says son is talking about killing people at his work", None, "co_response", "high", 2),
    ("wishes she could go to sleep and not wake up", None, "clinician_only", "none", 2),
    ("keeps telling his sister he hopes he doesn't wake up tomorrow", None, "clinician_only", "none", 2),
    ("she is tired of living and wants it all to end", None, "clinician_only", "none", 2),
    ("RP ADV FRIEND SAYS HE'S DONE LIVING, ALONE AT HOME", None, "clinician_only", "none", 2),
    (
        "took out a bottle of pills but did not swallow any, says she wants to die",
        None,
        "clinician_only",
        "none",
        2,
    ),
    ("doesn't trust himself not to hurt himself tonight", None, "clinician_only", "none", 2),
    ("cannot promise he won't kill himself", None, "clinician_only", "none", 2),
    ("2 MALES FITE IN FRONT OF BAR", None, "police", "high", 2),
    ("PHYS FITE IN PROG IN THE PARKING LOT", None, "police", "high", 2),
    ("BF CHOKED RP THEN LEFT ON FOOT", None, "police", "high", 2),
    ("woman being choked by her roommate right now", None, "police", "high", 2),
    ("SUSP PISTOL WHIPPED THE CLERK AND RAN", None, "police", "imminent", 1),
    ("he hit his brother with a bat", None, "police", "imminent", 1),
    ("MALE SWINGING AT PEOPLE OUTSIDE THE STORE", None, "police", "high", 2),
    ("NEIGHBOR THRTNING TO SHOOT RP", None, "police", "high", 2),
    ("UNK WEAPS, 2 SUBJS ARGUING", None, "police", "elevated", 3),
    ("son punching holes in the wall, screaming he wants to die", None, "co_response", "elevated", 2),
    ("HUSBAND DKING AND KICKING THE CAR DOOR, HEARING VOICES", None, "co_response", "elevated", 3),
    ("man banging on cabinets and yelling at the tv, high on meth", None, "co_response", "elevated", 3),
    ("DRUNK MALE HITTING PARKED CARS WITH HIS FISTS", None, "co_response", "elevated", 3),
    (
        "Suicidal ideation: denies. Homicidal ideation: denies. Pt is anxious and pacing.",
        None,
        "clinician_only",
        "none",
        3,
    ),
    ("Weapons: none. Pt is confused and wandering the hallway.", None, "clinician_only", "none", 3),
    (
        "Suicide risk was ruled out by the nurse; man is disoriented and crying.",
        None,
        "clinician_only",
        "none",
        3,
    ),
    (
        "Denies thoughts of suicide, thoughts of hurting others, or seeing things; very anxious.",
        None,
        "clinician_only",
        "none",
        3,
    ),
    ("No guns, knives or other weapons; she is hearing voices.", None, "clinician_only", "none", 3),
    ("SI - negative, HI - negative, weapons - none, pt paranoid", None, "clinician_only", "none", 3),
    ("no weapons, he is threatening to stab his neighbor", None, "police", "high", 2),
    ("RP SCREAMING HE'S GOING TO KILL ME, BF HITTING HER", None, "police", "high", 2),
    ("wife crying and terrified, husband punching her in the kitchen", None, "police", "high", 2),
    ("crisis counselor relaying: client is hearing voices, no weapons", None, "clinician_only", "none", 3),
    ("crisis worker on scene says man is confused, no weapons", None, "clinician_only", "none", 3),
    ("988 lifeline counselor reports caller is suicidal, alone at home", None, "clinician_only", "none", 2),
    ("swallowed about 30 of her antidepressants an hour ago", None, "clinician_only", "none", 1),
    ("took 20 of his sleeping pills", None, "clinician_only", "none", 1),
    ("grandma says the neighbors poisoned her food and are watching her", None, "clinician_only", "none", 3),
    (
        "HIGH ON METH, SCREAMING, SWEATING PROFUSELY AND TEARING HIS CLOTHES OFF",
        None,
        "clinician_only",
        "none",
        2,
    ),
    ("", "25-A-1", "clinician_only", "none", 3),
    ("", "25B03", "clinician_only", "none", 2),
    ("", "25-B-3-W", "co_response", "high", 1),  # a suicide threat with a weapon: lethal means
    ("", "25-B-4", "co_response", "high", 1),
    ("", "Well Person Check", "clinician_only", "none", 3),
    ("", "DISORIENTED SUBJECT", "clinician_only", "none", 3),
    ("", "DETOXIFICATION", "clinician_only", "none", 3),
    ("", "Traffic Acc/No Injury", "police", "none", 4),
    ("", "ANIMAL - INJURED, DEAD HAZARD, OTHER", "police", "none", 4),
    ("", "OBS - FIGHT - VERBAL/ORAL (NO WEAPONS)", "police", "elevated", 3),
    ("", "ASLT - WITH OR W/O WPNS (NO SHOOTINGS)", "police", "high", 2),
    ("man with dementia at the bus stop", None, "police", "none", 4),
    ("schizophrenic male sitting in the lobby", None, "police", "none", 4),
    ("woman from the encampment at the library", None, "police", "none", 4),
    ("guy who lives at the shelter is outside the store", None, "police", "none", 4),
    ("subject on parole standing near the school", None, "police", "none", 4),
    ("he was committed last year, he is at the park now", None, "police", "none", 4),
]


@pytest.mark.parametrize(("narrative", "call_type", "route", "threat", "priority"), KINDS)
def test_call_of_a_known_kind(
    narrative: str, call_type: str | None, route: str, threat: str, priority: int
) -> None:
    decision = classify(narrative, call_type)
    assert (decision.route.value, decision.threat_level.value, decision.priority) == (
        route,
        threat,
        priority,
    ), (
        sorted(codes(decision)),
        sorted(negated_codes(decision)),
    )


@pytest.mark.parametrize(
    ("text", "present", "absent"),
    [
        ("THREATENING SUICIDE", {"suicidal_ideation"}, {"threat_to_others"}),
        ("says he will kill somebody or himself", {"threat_to_others", "suicidal_ideation"}, set()),
        ("threatening to injure herself and her roommate", {"self_harm", "threat_to_others"}, set()),
        ("kicking the screen door off its hinges", {"property_destruction"}, {"violence"}),
        ("male choking a female against a car", {"violence"}, {"breathing_problem"}),
        ("choking on a piece of steak", {"breathing_problem"}, {"violence"}),
        ("says they poisoned her food", {"psychosis"}, {"overdose", "medical_other"}),
        ("she hopes she never wakes up", {"suicidal_ideation"}, {"unconscious"}),
    ],
)
def test_reading_of_a_phrase(text: str, present: set[str], absent: set[str]) -> None:
    found = codes(classify(text))
    assert present <= found and not (absent & found), found


@pytest.mark.parametrize(
    ("call_type", "negated"),
    [
        ("ASLT - WITH OR W/O WPNS (NO SHOOTINGS)", {"shots_fired", "person_shot_or_stabbed"}),
        (
            "WEAPN - GUN,DEADLY WPN (NO THRTS/ASLT/DIST)",
            {"threat_to_others", "violence", "verbal_aggression"},
        ),
        ("HARAS - NO BIAS OR THREATS", {"threat_to_others"}),
        ("OBS - FIGHT - VERBAL/ORAL (NO WEAPONS)", {"violence", "weapon"}),
        ("ANIMAL - INJURED, DEAD HAZARD, OTHER", {"injury", "death_investigation", "possible_death"}),
        ("Traffic Acc/No Injury", {"injury"}),
        ("THEFT (DOES NOT INCLUDE SHOPLIFT OR SVCS)", {"crime_in_progress"}),
        ("TRAFFIC - PARKING VIOL (EXCEPT ABANDONED CAR)", {"violent_behavior"}),
        ("SEX OFFENSES (NON-RAPE) - LEWD CONDUCT", {"violence"}),
        ("SEX OFFENDER REGISTRATION CHECK", {"violence"}),
        ("INDECENT EXPOSURE", {"medical_other"}),
        ("LEWD CONDUCT / EXPOSURE", {"medical_other", "violence"}),
    ],
)
def test_call_type_qualifiers_are_read(call_type: str, negated: set[str]) -> None:
    assert not (codes(classify("", call_type)) & negated)


@pytest.mark.parametrize(
    ("call_type", "code"),
    [
        ("SEX OFFENSE - RAPE", "violence"),
        ("SEXUAL OFFENSE IN PROGRESS", "violence"),
        ("SEXUAL ASSAULT", "violence"),
        ("COLD EXPOSURE", "medical_other"),
    ],
)
def test_call_types_of_the_same_family_still_fire(call_type: str, code: str) -> None:
    assert code in codes(classify("", call_type))


def test_determinant_in_the_narrative_keeps_its_span() -> None:
    narrative = "ProQA Code: 25-B-3-V. Caller is a coworker."
    decision = classify(narrative)
    spans = {i.code: narrative[i.span[0] : i.span[1]] for i in decision.indicators}
    assert spans["suicidal_ideation"] == "25-B-3-V" and spans["violent_behavior"] == "25-B-3-V"


@pytest.mark.parametrize(
    "narrative",
    ["an overdose was excluded by the ER; she is confused", "Overdose has been excluded, pt confused"],
)
def test_every_post_posed_verb_is_looked_for(narrative: str) -> None:
    # The quick "is there any negation at all" check must know the post-posed verbs too.
    decision = classify(narrative)
    assert "overdose" in negated_codes(decision) and "overdose" not in codes(decision)
