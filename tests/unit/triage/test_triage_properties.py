"""Properties: descriptors never change a decision, any input is classified, spans point at the text."""

from __future__ import annotations

import re

from dispatch_shared.events import TriageDecision
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from triage.policy import classify, default_policy

from tests.unit.triage.helpers import read_jsonl, signature

POLICY = default_policy()
DEV_CALLS = read_jsonl("dev_calls.jsonl")
PERSON = re.compile(
    r"\b(man|woman|son|daughter|brother|sister|teenager|person|neighbor|roommate|husband|father|mother|"
    r"friend|subject|guy|veteran|teen|wife|boyfriend|girlfriend)\b",
    re.IGNORECASE,
)
# Written independently of the lexicon, so this test fails if the lexicon forgets one.
INDEPENDENT_DESCRIPTORS = [
    "Black",
    "white",
    "brown-skinned",
    "African American",
    "Latino",
    "Latina",
    "Hispanic",
    "Asian",
    "Arab",
    "Native American",
    "Indigenous",
    "Somali",
    "Mexican",
    "Haitian",
    "Chinese",
    "Middle Eastern",
    "immigrant",
    "undocumented",
    "refugee",
    "Muslim",
    "Jewish",
    "Sikh",
    "Hindu",
    "Christian",
    "Catholic",
    "transgender",
    "trans",
    "nonbinary",
    "gay",
    "lesbian",
    "bisexual",
    "queer",
    "female",
    "homeless",
    "unhoused",
    "Spanish-speaking",
    "deaf",
    "blind",
    "disabled",
    "autistic",
    "schizophrenic",
    "bipolar",
    "mentally ill",
    "developmentally disabled",
    "wheelchair-using",
    "Vietnamese",
    "Russian",
    "Ukrainian",
]
# Plain-word descriptors of the lexicon itself (regex entries are covered by the list above).
LEXICON_DESCRIPTORS = sorted(
    {p for items in POLICY.spec.descriptors.values() for p in items if re.fullmatch(r"[a-z][a-z -]*", p)}
)
SLOW = settings(deadline=None, max_examples=300, suppress_health_check=[HealthCheck.too_slow])


def _insert(narrative: str, descriptor: str, occurrence: int) -> str:
    matches = list(PERSON.finditer(narrative))
    match = matches[occurrence % len(matches)]
    return f"{narrative[: match.start()]}{descriptor} {narrative[match.start() :]}"


@SLOW
@given(
    call=st.sampled_from([c for c in DEV_CALLS if PERSON.search(c["narrative"])]),
    descriptor=st.sampled_from(INDEPENDENT_DESCRIPTORS + LEXICON_DESCRIPTORS),
    occurrence=st.integers(min_value=0, max_value=5),
    upper=st.booleans(),
)
# A descriptor's optional word must not reach back over a phrase: "on a (word) visa" took "on a
# con visa" from "check on a con visa man", and the welfare check went with it.
@example(call=next(c for c in DEV_CALLS if c["id"] == "d13"), descriptor="con visa", occurrence=0, upper=True)
def test_inserting_a_descriptor_never_changes_the_decision(
    call: dict[str, str], descriptor: str, occurrence: int, upper: bool
) -> None:
    descriptor = descriptor.upper() if upper else descriptor
    before = classify(call["narrative"], call.get("call_type"), policy=POLICY)
    after = classify(_insert(call["narrative"], descriptor, occurrence), call.get("call_type"), policy=POLICY)
    assert signature(after) == signature(before)


SWAPS = {
    "he": "she",
    "him": "her",
    "his": "her",
    "himself": "herself",
    "man": "woman",
    "son": "daughter",
    "brother": "sister",
    "husband": "wife",
    "father": "mother",
    "boyfriend": "girlfriend",
    "guy": "woman",
}


@SLOW
@given(call=st.sampled_from(DEV_CALLS))
def test_swapping_gender_words_never_changes_the_decision(call: dict[str, str]) -> None:
    def swap(match: re.Match[str]) -> str:
        word = match.group()
        new = SWAPS[word.lower()]
        return new.upper() if word.isupper() else new.capitalize() if word[0].isupper() else new

    swapped = re.sub(r"\b(" + "|".join(SWAPS) + r")\b", swap, call["narrative"], flags=re.IGNORECASE)
    assume(swapped != call["narrative"])
    before = classify(call["narrative"], call.get("call_type"), policy=POLICY)
    assert signature(classify(swapped, call.get("call_type"), policy=POLICY)) == signature(before)


JUNK = st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=400) | st.lists(
    st.sampled_from(
        [
            "<script>",
            "</b>",
            "&amp;",
            "\x00",
            "\x1b[31m",
            "\u200b",
            "\u202e",
            "😱",
            "🔪",
            "ＳＩ",
            "ﬁght",
            "W/",
            "w/o",
            "SI",
            "HI",
            "OD'd",
            "’",
            "\r\n",
            "no",
            "not",
            "gun",
            "suicidal",
            "but",
            ",",
            ".",
            " ",
            "İstanbul",
            "ß",
            "e\u0301",
        ]
    ),
    max_size=80,
).map("".join)


def _check_spans(narrative: str, call_type: str | None, decision: TriageDecision) -> None:
    for indicator in [*decision.indicators, *decision.negated]:
        start, end = indicator.span
        source = narrative if indicator.source == "narrative" else (call_type or "")
        assert 0 <= start <= end <= len(source)
        assert source[start:end] == indicator.text


@settings(deadline=None, max_examples=400)
@given(narrative=JUNK, call_type=st.none() | JUNK)
def test_any_input_is_classified_without_error(narrative: str, call_type: str | None) -> None:
    decision = classify(narrative, call_type, policy=POLICY)
    assert 1 <= decision.priority <= 4
    _check_spans(narrative, call_type, decision)


def test_very_long_text_is_classified() -> None:
    narrative = "He is hearing voices and pacing. " * 3000 + "Now he has a knife."
    decision = classify(narrative, policy=POLICY)
    assert decision.route.value == "co_response"
    _check_spans(narrative, None, decision)


def test_spans_point_into_the_original_narrative() -> None:
    cases = {
        "RP ADV SUBJ W/ KNIFE, SI": {"weapon": "KNIFE", "suicidal_ideation": "SI"},
        "Caller says he\u2019s s\u00fcicidal and hears voices": {"psychosis": "hears voices"},
        "\uff33\uff35\uff29\uff23\uff29\uff24\uff21\uff2c man, <b>no weapons</b>": {
            "suicidal_ideation": "\uff33\uff35\uff29\uff23\uff29\uff24\uff21\uff2c"
        },
        "Woman \U0001f62d crying, OD'd on pills": {"crying_or_fear": "crying", "overdose": "OD'd"},
    }
    for narrative, expected in cases.items():
        decision = classify(narrative, policy=POLICY)
        _check_spans(narrative, None, decision)
        found = {i.code: i.text for i in decision.indicators}
        for code, text in expected.items():
            assert found.get(code) == text, (narrative, found)


def test_spans_of_the_dev_calls_relate_to_the_matched_words() -> None:
    for call in DEV_CALLS:
        decision = classify(call["narrative"], call.get("call_type"), policy=POLICY)
        _check_spans(call["narrative"], call.get("call_type"), decision)
        for indicator in decision.indicators:
            if indicator.source == "narrative":
                assert indicator.text.strip() and indicator.text == indicator.text.strip()


def test_every_independent_descriptor_is_neutralised() -> None:
    from triage.policy.text import neutralise, prepare

    for descriptor in INDEPENDENT_DESCRIPTORS:
        text = neutralise(prepare(f"A {descriptor} man is here", POLICY).text, POLICY)
        assert text.split() == ["a", "man", "is", "here"], descriptor
