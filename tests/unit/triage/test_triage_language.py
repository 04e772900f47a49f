"""How callers talk: negation scope, past tense, uncertainty, shorthand, misspellings, rewording."""

from __future__ import annotations

import pytest
from dispatch_shared.events import Route, ThreatLevel
from triage.policy import classify, default_policy

from tests.unit.triage.helpers import codes, negated_codes

POLICY = default_policy()
CLIN, CO, POL = Route.CLINICIAN_ONLY, Route.CO_RESPONSE, Route.POLICE
NONE, ELEV, HIGH, IMM = ThreatLevel.NONE, ThreatLevel.ELEVATED, ThreatLevel.HIGH, ThreatLevel.IMMINENT


def test_denial_negates_suicidal_ideation() -> None:
    decision = classify("Caller's son denies suicidal thoughts, he is just very anxious.", policy=POLICY)
    assert "suicidal_ideation" in negated_codes(decision)
    assert "suicidal_ideation" not in codes(decision)
    assert decision.route is CLIN and decision.priority == 3


def test_negation_scope_ends_at_but() -> None:
    decision = classify("No weapons seen, but he is punching the driver.", policy=POLICY)
    assert "weapon" in negated_codes(decision)
    assert "violence" in codes(decision)
    assert (decision.route, decision.threat_level) == (POL, HIGH)


def test_negation_does_not_leak_into_the_next_clause() -> None:
    decision = classify("He doesn't have a gun and is threatening to kill his wife.", policy=POLICY)
    assert "weapon" in negated_codes(decision)
    assert "threat_to_others" in codes(decision)


def test_negation_covers_a_list() -> None:
    decision = classify("She does not have a gun, a knife or a bat; she is confused.", policy=POLICY)
    assert not codes(decision) & {"weapon", "weapon_brandished"}
    assert decision.route is CLIN


@pytest.mark.parametrize(
    "narrative",
    [
        "My sister used to cut herself but tonight she is just crying.",
        "He was suicidal years ago, today he is upset after losing his job.",
        "Roommate was suicidal last year; now she is having a panic attack.",
        "She has a history of suicide attempts and is very anxious tonight.",
    ],
)
def test_past_mentions_do_not_fire(narrative: str) -> None:
    decision = classify(narrative, policy=POLICY)
    assert not codes(decision) & {"suicidal_ideation", "self_harm"}
    assert negated_codes(decision) & {"suicidal_ideation", "self_harm"}
    assert (decision.route, decision.priority) == (CLIN, 3)


# A past cue that belongs to another verb does not reach a present mention behind a present cue.
@pytest.mark.parametrize(
    ("narrative", "code"),
    [
        ("Guy who moved here last year is hearing voices and yelling at cars.", "psychosis"),
        ("Tried to hurt himself years ago and now says he wants to die.", "suicidal_ideation"),
        ("Neighbor who was evicted last year is now threatening to shoot people.", "threat_to_others"),
        ("Mi tío, que llegó el año pasado, ahora dice que se quiere matar.", "suicidal_ideation"),
    ],
)
def test_a_past_cue_of_another_verb_does_not_erase_the_present(narrative: str, code: str) -> None:
    assert code in codes(classify(narrative, policy=POLICY))


def test_history_of_violence_is_itself_a_safety_indicator() -> None:
    decision = classify("Man hearing voices, he has a history of violence.", policy=POLICY)
    assert "history_of_violence" in codes(decision)
    assert (decision.route, decision.threat_level) == (CO, ELEV)


@pytest.mark.parametrize(
    "narrative",
    [
        "She is paranoid and might have a gun.",
        "Man is talking to himself, possibly armed.",
        "Caller is not sure if her son has a knife, he is hearing voices.",
        "Unknown if subject has weapons, he is acting erratically.",
        "UNK IF ARMED, SUBJ HALLUCINATING",
    ],
)
def test_uncertain_weapon_counts(narrative: str) -> None:
    decision = classify(narrative, policy=POLICY)
    assert codes(decision) & {"weapon", "weapon_brandished"}
    assert (decision.route, decision.threat_level) == (CO, ELEV)


def test_call_taker_shorthand() -> None:
    decision = classify("RP ADV SUBJ W/ KNIFE, SI", policy=POLICY)
    assert {"weapon", "suicidal_ideation"} <= codes(decision)
    assert (decision.route, decision.threat_level, decision.priority) == (CO, ELEV, 2)


@pytest.mark.parametrize(
    ("narrative", "route", "threat", "priority"),
    [
        ("SUBJ W/O WPNS, 10-96, TALKING TO SELF", CLIN, NONE, 3),
        ("EDP IN LOBBY, NO WPNS SEEN", CLIN, NONE, 3),
        ("RP STATES SUBJ OD'D ON HEROIN, UNRESP", CLIN, NONE, 1),
        ("SUBJ HI TOWARD NEIGHBOR", CO, HIGH, 2),
        ("Subj denies SI", POL, NONE, 4),
        ("subj is suicidle and has a knife", CO, ELEV, 2),
        ("man having a siezure, unconcious", CLIN, NONE, 1),
    ],
)
def test_shorthand_and_misspellings(narrative: str, route: Route, threat: ThreatLevel, priority: int) -> None:
    decision = classify(narrative, policy=POLICY)
    assert (decision.route, decision.threat_level, decision.priority) == (route, threat, priority)


def test_hi_is_behavioral_and_a_threat() -> None:
    decision = classify("SUBJ HI TOWARD NEIGHBOR", policy=POLICY)
    assert {"homicidal_ideation", "threat_to_others"} <= codes(decision)


def test_lower_case_si_is_not_shorthand() -> None:
    assert "suicidal_ideation" not in codes(classify("si, he said hi to me", policy=POLICY))


@pytest.mark.parametrize(
    "diagnosis",
    ["schizophrenic", "bipolar", "autistic", "mentally ill", "psychotic", "PTSD-diagnosed", "schizo"],
)
def test_diagnosis_labels_never_raise_threat(diagnosis: str) -> None:
    for template in ["A {} man at the library.", "A {} man is talking to himself.", "A {} man has a knife."]:
        plain = classify(template.format(""), policy=POLICY)
        labelled = classify(template.format(diagnosis), policy=POLICY)
        assert labelled.threat_level == plain.threat_level
        assert labelled.route == plain.route or diagnosis == "psychotic"


# Held-out style: the same behaviors as the policy and dev set, worded differently.
REWORDED = [
    # behavioral, no safety risk -> clinician only
    ("My sister keeps saying she wants to kill herself.", CLIN, NONE, 2),
    ("Teen posted a goodbye note online and says nobody would miss her.", CLIN, NONE, 2),
    ("He told me he doesn't want to live anymore.", CLIN, NONE, 2),
    ("Caller's mother is disoriented and can't remember her address.", CLIN, NONE, 3),
    ("Guy screaming at traffic and rambling about the FBI following him.", CLIN, NONE, 3),
    ("Woman sobbing uncontrollably on the church steps.", CLIN, NONE, 3),
    ("Elderly man with Alzheimer's wandered off from the care home.", CLIN, NONE, 3),
    ("He's been off his psych meds for a week and is seeing things.", CLIN, NONE, 3),
    ("Person sleeping in the bus shelter, no coat, it is freezing.", CLIN, NONE, 3),
    ("Drunk man can't stand up straight outside the liquor store, not violent.", CLIN, NONE, 3),
    ("Please check on my neighbor, nobody has heard from her in a week.", CLIN, NONE, 3),
    ("Young man responding to internal stimuli at the transit center, calm.", CLIN, NONE, 3),
    # medical only -> clinician only with EMS
    ("Someone collapsed in the hallway and isn't breathing.", CLIN, NONE, 1),
    ("My dad is having chest pains and sweating.", CLIN, NONE, 2),
    ("Lady is seizing on the floor of the grocery store.", CLIN, NONE, 2),
    ("Teen took a bunch of her mom's pills and is now hard to wake.", CLIN, NONE, 1),
    ("Older gentleman fell down the stairs and hit his head.", CLIN, NONE, 2),
    # behavioral with safety risk -> co-response
    ("He said he's going to shoot himself, he has a pistol.", CO, HIGH, 1),
    ("Guy on the overpass ledge threatening to jump.", CO, HIGH, 1),
    ("Brother is manic, hasn't slept in days, not sure if he has a gun.", CO, ELEV, 3),
    ("Man having a psychotic episode is throwing furniture around.", CO, ELEV, 3),
    ("My husband has been drinking and says he'll kill me.", CO, HIGH, 2),
    ("Woman holding a razor to her wrist says she wants to die.", CO, HIGH, 1),
    ("Son is hallucinating and keeps a hunting rifle in his closet.", CO, ELEV, 3),
    # safety, no crisis -> police
    ("Someone just shot my brother.", POL, IMM, 1),
    ("Man swinging a bat at people outside the bar, he hit one of them with it.", POL, IMM, 1),
    ("There is a guy with a gun in the parking lot.", POL, ELEV, 3),
    ("My ex is outside trying to break in.", POL, HIGH, 2),
    ("She isn't armed but she keeps hitting her boyfriend.", POL, HIGH, 2),
    ("Student says he wants to shoot up the school.", POL, HIGH, 2),
    ("Heard several gunshots behind the gas station.", POL, IMM, 1),
    ("Guy pulled a knife on the cashier.", POL, HIGH, 2),
    ("Two guys brawling in the street.", POL, HIGH, 2),
    # nothing
    ("Car alarm has been going off for an hour.", POL, NONE, 4),
]


@pytest.mark.parametrize(("narrative", "route", "threat", "priority"), REWORDED)
def test_reworded_behaviors(narrative: str, route: Route, threat: ThreatLevel, priority: int) -> None:
    decision = classify(narrative, policy=POLICY)
    assert (decision.route, decision.threat_level, decision.priority) == (route, threat, priority), (
        decision.indicators
    )


@pytest.mark.parametrize(
    ("narrative", "review"),
    [
        ("Suspicious man in a hoodie by the cars.", True),
        ("911 hang up, no answer on callback.", True),
        ("Man at the bus stop.", True),
        ("My bike was stolen last night.", False),
    ],
)
def test_vague_calls_need_review(narrative: str, review: bool) -> None:
    decision = classify(narrative, policy=POLICY)
    assert (decision.route, decision.needs_review) == (POL, review)


def test_explanation_is_one_plain_sentence() -> None:
    decision = classify("Man sitting on the bus bench crying, says he wants to die.", policy=POLICY)
    assert decision.rule == "R3_behavioral_no_threat"
    assert decision.explanation.count(".") == 1 and "clinician-only" in decision.explanation
    imminent = classify("Suicidal man barricaded with a rifle.", policy=POLICY)
    assert imminent.rule == "R1_imminent_threat" and imminent.clinician_followup


def test_invisible_characters_cannot_hide_words_from_triage() -> None:
    hidden = "He says he wants to ki\u200bll himself and has a g\u200dun."
    decision = classify(hidden, policy=POLICY)
    assert decision == classify("He says he wants to kill himself and has a gun.", policy=POLICY).model_copy(
        update={"indicators": decision.indicators, "negated": decision.negated}
    )
    assert "suicidal_ideation" in codes(decision) and decision.route is CO
    span = next(i.span for i in decision.indicators if i.code == "suicidal_ideation")
    assert "\u200b" in hidden[span[0] : span[1]]  # spans still point into what the caller sent


# Animals are not people: a dog fight or an injured deer is an animal-control call, in both
# languages; the same words about a person still fire.
@pytest.mark.parametrize(
    "narrative",
    [
        "dog fight in the park",
        "injured dog on the road",
        "deer hit by a car, still alive",
        "roosters fighting in the backyard",
        "hay una pelea de perros en el parque",
        "un perro atropellado en la calle",
        "los gallos se están peleando",
    ],
)
def test_animal_calls_fire_no_person_indicator(narrative: str) -> None:
    assert not codes(classify(narrative, policy=POLICY)) & {"violence", "injury", "bleeding"}


@pytest.mark.parametrize(
    ("narrative", "code"),
    [
        ("two men fighting outside the bar", "violence"),
        ("man hit by a car on 3rd ave", "injury"),
        ("dos hombres peleando afuera del bar", "violence"),
        ("my dog is dead and I want to die", "suicidal_ideation"),
    ],
)
def test_the_same_words_about_people_still_fire(narrative: str, code: str) -> None:
    assert code in codes(classify(narrative, policy=POLICY))


# An animal that bites or attacks a person is no one's violence: the person's injury is a
# medical call (EMS, no police), in both languages. An animal attacking an animal is an
# animal-control call. A person setting a dog on someone is that person's violence.
@pytest.mark.parametrize(
    "narrative",
    [
        "dog attacked my son, he is bleeding",
        "a pit bull bit my daughter on the leg",
        "my son was attacked by the neighbors dog",
        "the dog is attacking a kid right now",
        "she was bitten by a raccoon",
        "un perro mordió a mi hijo",
        "el perro del vecino atacó a mi hija, está sangrando",
        "lo mordió un perro",
        "mi hijo fue mordido por un perro",
    ],
)
def test_an_animal_attacking_a_person_is_a_medical_call(narrative: str) -> None:
    decision = classify(narrative, policy=POLICY)
    assert "injury" in codes(decision) and "violence" not in codes(decision)
    assert (decision.route, decision.threat_level, decision.ems_required) == (CLIN, NONE, True)


@pytest.mark.parametrize(
    "narrative",
    [
        "dog attacked my cat",
        "the pit bull attacked our other dog",
        "a coyote killed my chickens",
        "el perro del vecino atacó a mi gato",
        "un coyote mató a mis gallinas",
    ],
)
def test_an_animal_attacking_an_animal_fires_nothing_about_people(narrative: str) -> None:
    assert not codes(classify(narrative, policy=POLICY)) & {"violence", "injury", "bleeding"}


@pytest.mark.parametrize(
    "narrative",
    ["he set his dog on me", "he sicced his pit bull on the mailman", "he let his dogs loose on us"],
)
def test_a_person_setting_an_animal_on_someone_is_violence(narrative: str) -> None:
    assert "violence" in codes(classify(narrative, policy=POLICY))


# Wanting to talk to someone is not a symptom; talking to someone who is not there is.
@pytest.mark.parametrize(
    ("narrative", "psychosis"),
    [
        ("caller wants to talk to someone about her anxiety", False),
        ("she asked to talk to somebody from the crisis line", False),
        ("he is talking to someone who isn't there", True),
        ("keeps talking to people that aren't there", True),
    ],
)
def test_talking_to_someone(narrative: str, psychosis: bool) -> None:
    assert ("psychosis" in codes(classify(narrative, policy=POLICY))) is psychosis


# On the wrong side of a barrier at a height is self-directed lethal means, however the caller
# says which side: co-response, priority 1. The same words at ground level fire nothing.
@pytest.mark.parametrize(
    "narrative",
    [
        "man on the outside of the bridge railing, threatening to jump",
        "person hanging onto the outside of the overpass railing",
        "she climbed to the other side of the guardrail on the freeway overpass",
        "subj on the wrong side of the fence on the bridge",
        "RP ADV SUBJ ON OUTSIDE OF BRIDGE RAILING",
        "hombre del otro lado del barandal del puente, dice que se va a aventar",
    ],
)
def test_the_far_side_of_a_railing_at_a_height_is_lethal_means(narrative: str) -> None:
    decision = classify(narrative, policy=POLICY)
    assert "lethal_means" in codes(decision)
    assert (decision.route, decision.priority) == (CO, 1)


@pytest.mark.parametrize(
    "narrative", ["woman sitting outside on the balcony smoking", "man outside the bar railing yelling"]
)
def test_outside_a_railing_at_ground_level_is_not_lethal_means(narrative: str) -> None:
    assert "lethal_means" not in codes(classify(narrative, policy=POLICY))


@pytest.mark.parametrize(
    "narrative",
    [
        "man threatening to jump off the bridge",
        "says he is going to jump out the window",
        "threatening to jump from the parking garage",
        "he says he is going to throw himself off the roof",
        "my neighbor threatens to throw herself out the window",
        "she threw herself in front of a train",
        "says he will jump in front of traffic",
        "wants to jump into the river",
        "jumped from the 5th floor",
    ],
)
def test_a_jump_or_fall_from_a_height_or_into_traffic_is_lethal_means(narrative: str) -> None:
    decision = classify(narrative, policy=POLICY)
    assert {"lethal_means", "suicidal_ideation"} <= set(codes(decision))
    assert (decision.route, decision.priority) == (CO, 1)


@pytest.mark.parametrize(
    "narrative",
    [
        "suspect jumped out of the car and ran away",
        "a man jumped out at her from the bushes",
        "kids jumping into the pool",
        "dog jumped off the couch",
        "he threw himself on the floor crying",
    ],
)
def test_a_jump_that_is_no_fall_from_a_height_is_not_self_harm(narrative: str) -> None:
    found = set(codes(classify(narrative, policy=POLICY)))
    assert not found & {"lethal_means", "suicidal_ideation"}


@pytest.mark.parametrize(
    ("narrative", "ideation"),
    [
        ("they want to kill me", False),
        ("my husband says he wants to kill me", False),
        ("he said he wants to murder us", False),
        ("he says he wants to kill his neighbor", True),
        ("she wants to kill someone", True),
    ],
)
def test_a_wish_to_kill_the_caller_is_a_threat_not_ideation(narrative: str, ideation: bool) -> None:
    # The policy's "thoughts of killing others": a threat against the caller is a threat (police).
    found = set(codes(classify(narrative, policy=POLICY)))
    assert "threat_to_others" in found
    assert ("homicidal_ideation" in found) is ideation
