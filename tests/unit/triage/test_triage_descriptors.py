"""Descriptors never count (docs/triage-policy.md), broadly: who someone is never moves a decision.

Descriptors of identity (race, ethnicity, national origin, immigration status, religion, gender,
gender identity, sexual orientation, housing status, language, disability and psychiatric
diagnosis labels, and the places and statuses tied to who someone is) are inserted into labelled
and hand-written calls at a person, in several grammatical positions and in CAD capitals; the
``invariance_signature`` must not move. A label on its own fires nothing, and what the person is
doing next to a label still counts.

The descriptor lists below are written independently of the lexicon, so a descriptor the lexicon
forgets makes these tests fail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import lru_cache

import pytest
from dispatch_shared.events import ThreatLevel, TriageDecision
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from triage.policy import classify, default_policy
from triage.policy import invariance_signature as signature
from triage.policy.text import neutralise, prepare

from tests.unit.triage.helpers import codes, read_jsonl

POLICY = default_policy()

# Three grammatical kinds, so each descriptor is inserted where it reads naturally:
# ADJECTIVES go before a person noun ("a Black man"), PHRASES after it ("a man with dementia"),
# PREDICATES after a subject ("he has dementia", "a man who lives at the shelter").
ADJECTIVES = [
    # race, ethnicity, skin colour
    "Black",
    "white",
    "brown",
    "African American",
    "African-American",
    "Latino",
    "Latina",
    "Latinx",
    "Hispanic",
    "Chicano",
    "Asian",
    "Asian American",
    "Arab",
    "Native American",
    "Indigenous",
    "Alaska Native",
    "Pacific Islander",
    "Caucasian",
    "biracial",
    "mixed-race",
    "multiracial",
    "dark-skinned",
    "light-skinned",
    "Roma",
    # national origin
    "Mexican",
    "Somali",
    "Haitian",
    "Guatemalan",
    "Salvadoran",
    "Honduran",
    "Venezuelan",
    "Puerto Rican",
    "Dominican",
    "Cuban",
    "Jamaican",
    "Nigerian",
    "Ethiopian",
    "Eritrean",
    "Congolese",
    "Sudanese",
    "Afghan",
    "Syrian",
    "Iraqi",
    "Iranian",
    "Yemeni",
    "Lebanese",
    "Pakistani",
    "Indian",
    "Bangladeshi",
    "Nepali",
    "Burmese",
    "Vietnamese",
    "Korean",
    "Chinese",
    "Filipino",
    "Hmong",
    "Samoan",
    "Tongan",
    "Russian",
    "Ukrainian",
    "Polish",
    "Middle Eastern",
    "foreign-born",
    # immigration status
    "immigrant",
    "undocumented",
    "refugee",
    "migrant",
    "asylum-seeking",
    "non-citizen",
    # religion
    "Muslim",
    "Jewish",
    "Orthodox Jewish",
    "Hasidic",
    "Sikh",
    "Hindu",
    "Christian",
    "Catholic",
    "Buddhist",
    "Mormon",
    "Amish",
    "evangelical",
    # gender and gender identity
    "female",
    "male",
    "transgender",
    "trans",
    "nonbinary",
    "non-binary",
    "genderqueer",
    "gender-fluid",
    "intersex",
    "two-spirit",
    "cisgender",
    # sexual orientation
    "gay",
    "lesbian",
    "bisexual",
    "pansexual",
    "asexual",
    "queer",
    "LGBTQ",
    "homosexual",
    # housing status
    "homeless",
    "unhoused",
    "houseless",
    "unsheltered",
    "transient",
    "vagrant",
    # language
    "Spanish-speaking",
    "Somali-speaking",
    "Arabic-speaking",
    "Mandarin-speaking",
    "non-English-speaking",
    # disability
    "deaf",
    "hard-of-hearing",
    "hearing-impaired",
    "blind",
    "visually impaired",
    "disabled",
    "handicapped",
    "wheelchair-using",
    "wheelchair-bound",
    "paraplegic",
    "quadriplegic",
    "amputee",
    "developmentally disabled",
    "developmentally delayed",
    "intellectually disabled",
    "cognitively impaired",
    "learning-disabled",
    "special-needs",
    "epileptic",
    "autistic",
    "nonverbal autistic",
    # psychiatric diagnosis labels
    "schizophrenic",
    "paranoid schizophrenic",
    "schizoaffective",
    "bipolar",
    "manic-depressive",
    "mentally ill",
    "mentally disabled",
    # statuses tied to who someone is
    "paroled",
    "formerly incarcerated",
    "ex-con",
]

PHRASES = [
    # diagnosis and disability labels
    "with dementia",
    "with early-onset dementia",
    "with Alzheimer's",
    "with alzheimers",
    "with Alzheimer's disease",
    "with schizophrenia",
    "with paranoid schizophrenia",
    "with bipolar disorder",
    "with PTSD",
    "with autism",
    "on the autism spectrum",
    "on the spectrum",
    "with Down syndrome",
    "with cerebral palsy",
    "with an intellectual disability",
    "with a developmental disability",
    "with a mental illness",
    "with a psychiatric history",
    "with a history of mental illness",
    "with a history of schizophrenia",
    "with a known 5150 history",
    "with a known mental health history",
    "with borderline personality disorder",
    "with OCD",
    "with ADHD",
    "with depression",
    "with an anxiety disorder",
    "with panic disorder",
    "with a seizure disorder",
    "with epilepsy",
    "with a TBI",
    "with dissociative identity disorder",
    "diagnosed bipolar",
    "diagnosed with schizophrenia",
    "diagnosed with PTSD",
    "diagnosed with dementia",
    "DX BIPOLAR",
    "DX SCHIZOPHRENIA",
    "DX PTSD",
    "HX SCHIZOPHRENIA",
    "in a wheelchair",
    "with a cane",
    "with a walker",
    "with a guide dog",
    "with a hearing aid",
    "with special needs",
    "with a disability",
    # housing, and places tied to who someone is
    "from the shelter",
    "from the homeless shelter",
    "from the women's shelter",
    "from the encampment",
    "from the homeless camp",
    "from the group home",
    "from the halfway house",
    "from the sober living house",
    "from the mission",
    "from the rescue mission",
    "from the reservation",
    "from the mosque",
    "from the synagogue",
    "from the Sikh temple",
    "living in his car",
    "living in a tent",
    "living on the street",
    "living at the shelter",
    "staying at the mission",
    "staying at the shelter",
    "staying at the group home",
    # national origin and immigration status
    "from Mexico",
    "from Somalia",
    "from Guatemala",
    "from Haiti",
    "from Afghanistan",
    "from Ukraine",
    "without papers",
    "without legal status",
    "here on a visa",
    "with a green card",
    # religion
    "wearing a hijab",
    "in a turban",
    "wearing a yarmulke",
    "in a headscarf",
    # language
    "with limited English",
    "with a heavy accent",
    "with a thick accent",
    # statuses
    "on parole",
    "on probation",
    "on federal probation",
    "on disability",
    "on SSI",
    "on section 8",
    "under conservatorship",
    "in foster care",
    "in recovery",
    "in a methadone program",
    # CAD race-sex shorthand
    "B/M",
    "W/M",
    "W/F",
    "H/M",
    "B/F",
    "H/F",
    "A/M",
    "B/M 30S",
    "W/F 40S",
    "BM 30S",
    "WF 40S",
    "HM 20S",
    "WMA",
    "BFA",
    "BLK MALE",
    "WHT FEMALE",
    "HISP MALE",
]

PREDICATES = [
    "has dementia",
    "has Alzheimer's",
    "has schizophrenia",
    "is schizophrenic",
    "is bipolar",
    "has PTSD",
    "has autism",
    "is autistic",
    "is on the spectrum",
    "has a mental illness",
    "is mentally ill",
    "has Down syndrome",
    "is deaf",
    "is blind",
    "uses a wheelchair",
    "has a disability",
    "was diagnosed bipolar",
    "was diagnosed with schizophrenia last year",
    "has a history of schizophrenia",
    "was committed last year",
    "was committed to the state hospital in 2019",
    "was involuntarily committed two years ago",
    "has a known 5150 history",
    "has a history of 5150 holds",
    "lives at the shelter",
    "lives at the group home",
    "lives in the encampment",
    "lives in his car",
    "lives on the street",
    "stays at the mission",
    "is homeless",
    "is transient",
    "is undocumented",
    "is an immigrant",
    "is a refugee",
    "is Muslim",
    "attends the mosque",
    "goes to the mosque",
    "is Jewish",
    "is transgender",
    "is gay",
    "is a lesbian",
    "speaks only Spanish",
    "only speaks Spanish",
    "speaks no English",
    "doesn't speak English",
    "does not speak English",
    "speaks limited English",
    "is on parole",
    "is on probation",
    "is a veteran",
    "is a parolee",
    "is an ex-con",
    "got out of prison last year",
    "is on medication for bipolar disorder",
    "is in recovery",
    "is a recovering addict",
    "is on methadone",
]

ADJ, PHRASE, PREDICATE = "adjective", "phrase", "predicate"
DESCRIPTORS: list[tuple[str, str]] = (
    [(d, ADJ) for d in ADJECTIVES] + [(d, PHRASE) for d in PHRASES] + [(d, PREDICATE) for d in PREDICATES]
)

# A person the call is about; inserting at one keeps the narrative plausible.
PERSON = re.compile(
    r"\b(?:man|woman|men|son|daughter|brother|sister|teenager|teen|person|neighbou?r|roommate|husband|"
    r"wife|father|mother|friend|subject|subj|guy|male|boyfriend|girlfriend|patient|resident|tenant)\b",
    re.IGNORECASE,
)

# Short calls written for this file, reaching every route rule (R1..R6), negation, past, CAD
# shorthand and call types; each has a person to describe.
BASE_NARRATIVES = [
    "Caller says a man shot his neighbor in the parking lot and is still walking around with the gun.",
    "SUBJ STABBED HIS BROTHER W/ A KNIFE, VIC BLEEDING HEAVILY",
    "Woman barricaded in her apartment with a rifle, says she wants to die.",
    "Man hearing voices and waving a kitchen knife at his mother.",
    "Caller's son is off his meds and punching holes in the walls, yelling at the family.",
    "SUBJ 5150 W/ BAT IN HAND, YELLING AT CARS",
    "Roommate says he wants to die and has guns in the house.",
    "Intoxicated man screaming at the bartender, says he will hurt someone.",
    "Woman is confused and wandering in the road, doesn't know where she is.",
    "Teenager crying uncontrollably in the school bathroom, says she wants to end it all. No weapons.",
    "Man talking to himself at the bus stop, undressed in the cold.",
    "Caller's brother has nowhere to sleep tonight and is sitting outside the library.",
    "Neighbor has not been seen in four days, daughter requesting a welfare check.",
    "RP ADV SUBJ SI, NO WPNS, CALM",
    "Elderly man is hearing voices and keeps asking what year it is.",
    "Woman having a panic attack on the train platform, hyperventilating.",
    "Daughter says her mother has not been taking her medication and thinks the neighbors are poisoning her.",
    "Man is not armed and not violent, just sitting on the curb drunk.",
    "HOMELESS MALE LYING ON SIDEWALK, UNK IF BREATHING",
    "Man collapsed in the store and is unresponsive.",
    "Woman fell down the stairs and hurt her hip, she is alert.",
    "Caller's father is having chest pain and trouble breathing.",
    "Two men fighting in the street outside the bar.",
    "Subject breaking into cars in the garage right now.",
    "Man waving a gun at people in the park.",
    "Neighbor threatened to shoot the caller over a parking spot.",
    "Suspicious person near the school.",
    "Man at the library.",
    "Caller wants a man removed from the lobby of her building.",
    "Caller says her husband was suicidal years ago but is fine now, no current concerns.",
    "Subject denies suicidal thoughts and has no weapons, he is calm and cooperative.",
    "SUBJ W/O WEAPONS, CALM, REQ RIDE HOME",
]
BASE_CALLS: list[tuple[str, str | None]] = [(n, None) for n in BASE_NARRATIVES] + [
    ("Man standing outside the store, NFD", "MNTL"),
    ("SUBJ AT THE BUS STOP", "WELFARE"),
    ("Woman in the lobby of the clinic", "WEAPON"),
]
DEV_CALLS = [(c["narrative"], c.get("call_type")) for c in read_jsonl("dev_calls.jsonl")]
ALL_CALLS = [call for call in BASE_CALLS + DEV_CALLS if PERSON.search(call[0])]


def _base(start: str) -> tuple[str, str | None]:
    (call,) = [c for c in BASE_CALLS if c[0].startswith(start)]
    return call


# The exhaustive sweep: every descriptor, every position, on these calls (one per route rule,
# plus negation, past tense, CAD shorthand and a call type).
SWEEP_CALLS = [
    _base("Caller says a man shot"),  # R1: shots, weapon
    _base("Man hearing voices and waving"),  # R2: psychosis + brandished knife
    _base("SUBJ 5150 W/ BAT"),  # R2: CAD code with a bat
    _base("Woman is confused and wandering"),  # R3: disorientation
    _base("Caller's brother has nowhere"),  # R3: welfare, nowhere to sleep
    _base("Daughter says her mother"),  # R3: off medication + paranoia
    _base("Man collapsed"),  # R4: unresponsive
    _base("Man waving a gun"),  # R5: brandished gun
    _base("Man at the library"),  # R6: thin, held for review
    _base("Caller says her husband was suicidal"),  # past tense
    _base("Subject denies"),  # negation
    _base("SUBJ AT THE BUS STOP"),  # call type WELFARE, CAD capitals
]


def _decide(call: tuple[str, str | None]) -> TriageDecision:
    return classify(call[0], call[1], policy=POLICY)


@lru_cache(maxsize=1024)
def _base_signature(call: tuple[str, str | None]) -> tuple[object, ...]:
    """The decision's signature without a descriptor (cached: the sweep asks for it often)."""
    return signature(_decide(call))


def _attached(descriptor: str, kind: str, noun: str) -> str:
    """``noun`` described: "Black man", "man with dementia", "man who has dementia"."""
    if kind == ADJ:
        return f"{descriptor} {noun}"
    if kind == PHRASE:
        return f"{noun} {descriptor}"
    return f"{noun} who {descriptor}"


def _clause(descriptor: str, kind: str, noun: str) -> str:
    """``noun`` with the descriptor in commas: "man, who is Black," or "man, on parole,"."""
    if kind == ADJ:
        return f"{noun}, who is {descriptor},"
    if kind == PHRASE:
        return f"{noun}, {descriptor},"
    return f"{noun}, who {descriptor},"


def _sentence(descriptor: str, kind: str) -> str:
    """The descriptor as a sentence of its own: "He is Black." or "He has dementia."."""
    if kind == ADJ:
        return f"He is {descriptor}."
    if kind == PHRASE:
        return f"He is someone {descriptor}."
    return f"He {descriptor}."


def _at_person(narrative: str, occurrence: int, describe: Callable[[str], str]) -> str:
    matches = list(PERSON.finditer(narrative))
    match = matches[occurrence % len(matches)]
    return narrative[: match.start()] + describe(match.group()) + narrative[match.end() :]


def _joined(first: str, second: str) -> str:
    first = first.rstrip()
    return f"{first} {second}" if first.endswith((".", "!", "?")) else f"{first}. {second}"


Position = Callable[[str, str, str, int], tuple[str, str]]


def _noun(narrative: str, descriptor: str, kind: str, occurrence: int) -> tuple[str, str]:
    return narrative, _at_person(narrative, occurrence, lambda n: _attached(descriptor, kind, n))


def _comma_clause(narrative: str, descriptor: str, kind: str, occurrence: int) -> tuple[str, str]:
    return narrative, _at_person(narrative, occurrence, lambda n: _clause(descriptor, kind, n))


def _capitals(narrative: str, descriptor: str, kind: str, occurrence: int) -> tuple[str, str]:
    upper = narrative.upper()
    return upper, _at_person(upper, occurrence, lambda n: _attached(descriptor.upper(), kind, n))


def _sentence_after(narrative: str, descriptor: str, kind: str, occurrence: int) -> tuple[str, str]:
    return narrative, _joined(narrative, _sentence(descriptor, kind))


def _cad_prefix(narrative: str, descriptor: str, kind: str, occurrence: int) -> tuple[str, str]:
    return narrative, _joined(_attached(descriptor.upper(), kind, "SUBJ"), narrative)


POSITIONS: dict[str, Position] = {
    "at_person": _noun,
    "comma_clause": _comma_clause,
    "capitals": _capitals,
    "sentence_after": _sentence_after,
    "cad_prefix": _cad_prefix,
}


def _variant_failures(call: tuple[str, str | None], descriptor: str, kind: str) -> list[str]:
    """Each position (and each person, where there are several) whose decision moved."""
    failures = []
    for name, position in POSITIONS.items():
        for occurrence in range(len(PERSON.findall(call[0])) if name in ("at_person", "comma_clause") else 1):
            base, described = position(call[0], descriptor, kind, occurrence)
            if signature(_decide((described, call[1]))) != _base_signature((base, call[1])):
                failures.append(f"{name}: {described!r}")
    return failures


def test_descriptor_lists_are_broad() -> None:
    texts = [d.lower() for d, _ in DESCRIPTORS]
    assert len(DESCRIPTORS) >= 150
    assert len(set(texts)) == len(texts)
    assert sum(" " in d for d in texts) >= 60  # multiword descriptors, not only single words


def test_base_calls_reach_every_route_rule() -> None:
    rules = {_decide(call).rule for call in BASE_CALLS}
    assert {r[:2] for r in rules} == {"R1", "R2", "R3", "R4", "R5", "R6"}
    assert all(PERSON.search(narrative) for narrative, _ in BASE_CALLS)


def test_every_descriptor_in_every_position_leaves_the_decision_alone() -> None:
    failures = [
        f"{descriptor!r} {failure}"
        for descriptor, kind in DESCRIPTORS
        for call in SWEEP_CALLS
        for failure in _variant_failures(call, descriptor, kind)
    ]
    assert failures == []


@settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])
@given(
    call=st.sampled_from(ALL_CALLS),
    described=st.lists(st.sampled_from(DESCRIPTORS), min_size=1, max_size=3),
    position=st.sampled_from(sorted(POSITIONS)),
    occurrence=st.integers(min_value=0, max_value=4),
)
def test_stacked_descriptors_anywhere_leave_the_decision_alone(
    call: tuple[str, str | None], described: list[tuple[str, str]], position: str, occurrence: int
) -> None:
    base = narrative = call[0].upper() if position == "capitals" else call[0]
    for descriptor, kind in described:  # "a homeless Black man with dementia, on parole"
        _, narrative = POSITIONS[position](narrative, descriptor, kind, occurrence)
    assert signature(_decide((narrative, call[1]))) == signature(_decide((base, call[1])))


def _label_sentences(descriptor: str, kind: str) -> list[str]:
    upper = descriptor.upper()
    return [
        descriptor,
        _sentence(descriptor, kind),
        f"caller says her brother {'is ' if kind == ADJ else ''}{descriptor}",
        f"Caller says her {_attached(descriptor, kind, 'brother')}",
        _attached(upper, kind, "SUBJ"),
        f"RP ADV {_attached(upper, kind, 'MALE')}",
        f"The {_clause(descriptor, kind, 'subject')} is at the front desk.",
    ]


@pytest.mark.parametrize(("descriptor", "kind"), DESCRIPTORS, ids=[d for d, _ in DESCRIPTORS])
def test_a_label_alone_fires_nothing(descriptor: str, kind: str) -> None:
    for sentence in _label_sentences(descriptor, kind):
        decision = classify(sentence, policy=POLICY)
        assert (decision.rule, codes(decision), decision.priority) == ("R6_nothing_fired", set(), 4), sentence


# What the person is doing still counts, right next to a label: (predicate, code it fires).
BEHAVIORS = [
    ("is confused and wandering", "disorientation"),
    ("is hearing voices", "psychosis"),
    ("has nowhere to sleep tonight", "welfare_concern"),
    ("is off his meds", "off_medication"),
    ("says he wants to die", "suicidal_ideation"),
    ("keeps talking to himself", "erratic_behavior"),
    ("is drunk", "intoxication"),
]


def _behavior_sentences(descriptor: str, kind: str, behavior: str) -> list[str]:
    if kind == ADJ:
        return [f"The {descriptor} man {behavior}.", f"He is {descriptor} and {behavior}."]
    if kind == PHRASE:
        return [f"The man {descriptor} {behavior}.", f"SUBJ {descriptor.upper()} {behavior.upper()}"]
    return [f"The man {descriptor} and {behavior}.", f"The man who {descriptor} {behavior}."]


@pytest.mark.parametrize(("behavior", "code"), BEHAVIORS, ids=[c for _, c in BEHAVIORS])
def test_behavior_next_to_a_label_still_fires(behavior: str, code: str) -> None:
    plain = classify(f"The man {behavior}.", policy=POLICY)
    assert code in codes(plain)
    missed = []
    for descriptor, kind in DESCRIPTORS:
        for sentence in _behavior_sentences(descriptor, kind, behavior):
            decision = classify(sentence, policy=POLICY)
            if code not in codes(decision) or signature(decision) != signature(plain):
                missed.append(sentence)
    assert missed == []


@pytest.mark.parametrize(
    ("narrative", "code"),
    [
        ("Man from the shelter says he has nowhere to sleep tonight.", "welfare_concern"),
        ("Woman who lives at the group home is confused and wandering.", "disorientation"),
        ("Her son has schizophrenia and is hearing voices again.", "psychosis"),
        ("DX BIPOLAR, OFF HIS MEDS X2 WEEKS", "off_medication"),
        ("Father has dementia and is wandering in the street in his pajamas.", "disorientation"),
        ("Homeless man was kicked out of the shelter and needs a place to sleep.", "welfare_concern"),
        ("Man on parole says he wants to kill himself.", "suicidal_ideation"),
        ("Man needs a ride to a shelter tonight.", "welfare_concern"),
        ("Person sleeping in the bus shelter, no coat.", "welfare_concern"),
        ("SUBJ ON A 5150 HOLD, WALKED OUT OF THE ER", "mental_health_crisis"),
        ("RP REQ CHK ON WELFARE", "welfare_concern"),
        ("Her son no longer takes his meds for schizophrenia.", "off_medication"),
        ("Her son is not taking his medication for bipolar disorder.", "off_medication"),
        ("He speaks only gibberish.", "psychosis"),
        ("Man with a history of schizophrenia is hearing voices.", "psychosis"),
        ("Man who was committed last year says he wants to die.", "suicidal_ideation"),
        ("Man without papers is hearing voices.", "psychosis"),
    ],
)
def test_behavior_beside_places_and_labels_still_fires(narrative: str, code: str) -> None:
    assert code in codes(classify(narrative, policy=POLICY))


@pytest.mark.parametrize(
    "phrase",
    [
        "turned away from the shelter",
        "banned from the shelter",
        "kicked out of the shelter",
        "needs a ride to a shelter tonight",
        "sleeping in the bus shelter",
        "requesting a check on welfare",
        "speaks only gibberish",
        "no longer takes his meds",
        "is not taking his medication",
        "committed to hurting them",
    ],
)
def test_needs_and_acts_are_never_blanked_as_descriptors(phrase: str) -> None:
    prepared = prepare(phrase, POLICY).text
    assert neutralise(prepared, POLICY) == prepared


def _strip(narrative: str, descriptor: str) -> str | None:
    pattern = re.compile(r"\b" + re.escape(descriptor) + r"(?!\w)", re.IGNORECASE)
    stripped = pattern.sub("", narrative)
    return None if stripped == narrative else re.sub(r"\s+", " ", stripped).strip()


def test_removing_a_descriptor_from_the_dev_calls_changes_nothing() -> None:
    checked = 0
    failures = []
    for call in DEV_CALLS:
        for descriptor, _ in DESCRIPTORS:
            stripped = _strip(call[0], descriptor)
            if stripped is None:
                continue
            checked += 1
            if signature(_decide((stripped, call[1]))) != signature(_decide(call)):
                failures.append(f"{descriptor!r} out of {call[0]!r}")
    assert checked >= 5
    assert failures == []


@pytest.mark.parametrize(
    "described",
    [
        "Man in crisis is attacking his mother, with a hearing aid, with a baseball bat right now.",
        "Man in crisis is attacking his mother, who is Christian, with a baseball bat right now.",
        "Man in crisis is attacking his mother, deaf, Black, with a baseball bat right now.",
        "Man in crisis is attacking his mother, WHT FEMALE, with a baseball bat right now.",
        "Man in crisis is attacking his mother, who is a veteran, with a baseball bat right now.",
        "Man in crisis is attacking his mother who is an immigrant who is a refugee with a baseball bat now.",
    ],
)
def test_a_descriptor_set_off_by_commas_leaves_the_decision_alone(described: str) -> None:
    # An aside between commas must read as if it were not there, commas included.
    plain = "Man in crisis is attacking his mother with a baseball bat right now."
    assert signature(classify(described)) == signature(classify(plain))


# Call-taker shorthand for who someone is (sex, race and sex, age, gender identity), typed where
# the person noun would stand: "HITTING FEM W/ A STICK", "PINNED WF TO THE GROUND". Some of it is
# blanked as a descriptor (WF, W/F, MALE, TRANS, and FEM, which the Spanish pack expands to
# "femenino"), some of it is read as a person (JUV, ELD, F, M); either way the call must be
# decided as it is with a plain person noun, and every shorthand alike.
SHORTHAND = [
    "FEM",
    "FEMALE",
    "MALE",
    "MASC",
    "F",
    "M",
    "WF",
    "BM",
    "HM",
    "W/F",
    "B/M",
    "WMA",
    "BFA",
    "JUV",
    "JUVE",
    "JUVENILE",
    "ELD",
    "ELDERLY",
    "TRANS",
    "NB",
    "WHT FEMALE",
    "BLK MALE",
    "HISP M",
    "F 30S",
    "BM 20S",
    "TRANS FEM",
    "ELDERLY FEM",
    "ELD F",
    "JUV M",
]
# What is done to the person: one act per reading (force with an object, force alone, a weapon
# brandished, a threat, a shooting), with the plain noun each shorthand stands in for.
ACTS_ON = [
    "HITTING {} W/ A STICK",
    "SUBJ HITTING {} W/ A PIPE",
    "HIT {} W/ A BOTTLE",
    "ATTACKING {} W/ A HAMMER",
    "SUBJ CHOKING {}",
    "SUBJ GRABBED {} BY THE HAIR",
    "PUSHED {} DOWN THE STAIRS",
    "KICKING {} IN THE HEAD",
    "PUNCHED {} IN THE FACE",
    "STOMPING ON {}",
    "THREW {} AGAINST THE WALL",
    "SLAMMED {} INTO THE WALL",
    "PINNED {} TO THE GROUND",
    "SUBJ BIT {}",
    "SUBJ SLAPPED {}",
    "SUBJ IS HURTING {}",
    "CHASING {} W/ A KNIFE",
    "POINTING A GUN AT {}",
    "SWINGING A BAT AT {}",
    "THREATENING TO KILL {}",
    "SUBJ STABBED {}",
    "SUBJ RAN OVER {} W/ HIS CAR",
]
PLAIN_NOUN = "THE WOMAN"


@pytest.mark.parametrize("act", ACTS_ON)
def test_shorthand_for_the_person_acted_on_decides_like_a_plain_noun(act: str) -> None:
    plain = signature(classify(act.format(PLAIN_NOUN), policy=POLICY))
    assert plain[1] is not ThreatLevel.NONE  # every act is a safety reading
    moved = [s for s in SHORTHAND if signature(classify(act.format(s), policy=POLICY)) != plain]
    assert moved == []


# The same shorthand before the subject, and in Spanish CAD text (SUJ FEM, SUJ MASC): as if absent.
SHORTHAND_BEFORE = [
    ("{} SUBJ HITTING HIS MOTHER W/ A STICK", "SUBJ HITTING HIS MOTHER W/ A STICK"),
    ("SUBJ {} SAYS SHE WANTS TO DIE", "SUBJ SAYS SHE WANTS TO DIE"),
    ("RP ADV {} IS HEARING VOICES", "RP ADV SUBJ IS HEARING VOICES"),
    ("{} W/ KNIFE IN HAND", "SUBJ W/ KNIFE IN HAND"),
    ("SUJ {} GOLPEANDO A SU HIJO CON UN PALO", "SUJ GOLPEANDO A SU HIJO CON UN PALO"),
    ("SUJ {} LE PEGO A SU ESPOSA", "SUJ LE PEGO A SU ESPOSA"),
    ("SUJ {} PATEANDO LA PUERTA", "SUJ PATEANDO LA PUERTA"),
    ("SUJ {} DICE QUE SE QUIERE MATAR", "SUJ DICE QUE SE QUIERE MATAR"),
    ("GOLPEANDO A {} CON UN TUBO", "GOLPEANDO A SU ESPOSA CON UN TUBO"),
]
SPANISH_SHORTHAND = ["FEM", "MASC", "FEMENINO", "FEMENINA", "MASCULINO"]


@pytest.mark.parametrize(("template", "plain"), SHORTHAND_BEFORE)
def test_shorthand_beside_the_subject_leaves_the_decision_alone(template: str, plain: str) -> None:
    expected = signature(classify(plain, policy=POLICY))
    words = SPANISH_SHORTHAND if template.startswith(("SUJ", "GOLPEANDO")) else SHORTHAND
    moved = [s for s in words if signature(classify(template.format(s), policy=POLICY)) != expected]
    assert moved == []
