"""One text normalisation on every path: a narrative stored by intake decides like the raw one.

Intake stores ``clean_text(narrative)`` and the triage consumer classifies that; a preview, the
``triage`` command line and ``make eval`` classify the caller's text as sent. Both must decide alike
whatever separators, control or invisible characters the text carries.
"""

from __future__ import annotations

import unicodedata

import pytest
from dispatch_shared.text import clean_text, control_replacement
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from triage.policy import classify, default_policy
from triage.policy import invariance_signature as signature

from tests.unit.triage.helpers import codes

POLICY = default_policy()

WORDS = [
    "he", "she", "says", "said", "wants", "to", "kill", "himself", "herself", "hearing", "voices",
    "has", "a", "gun", "knife", "no", "not", "denies", "suicidal", "threatening", "the", "neighbor",
    "yelling", "at", "cars", "overdosed", "unresponsive", "crying", "punched", "wall", "hit", "his",
    "mother", "armed", "weapon", "history", "of", "violence", "but", "and", "now", "drunk",
    "confused", "die", "end", "life", ",", ".", "SI", "HI", "w/o", "weapons", "RP", "ADV",
]  # fmt: skip
# Characters that separate words: C0/C1 controls, line/paragraph/record breaks, a no-break space.
SEPARATORS = [
    " ", "\t", "\n", "\r", "\r\n", "\x00", "\x07", "\x08", "\x0b", "\x0c", "\x1b", "\x1c", "\x1d",
    "\x1e", "\x1f", "\x7f", "\x80", "\x85", "\x9f", "\u00a0", "\u2028", "\u2029", "\u3000",
]  # fmt: skip
# Format characters (Unicode Cf): they hide text and must not split a word.
INVISIBLE = [
    "\u00ad", "\u061c", "\u180e", "\u200b", "\u200c", "\u200d", "\u200e", "\u200f", "\u202a",
    "\u202b", "\u202c", "\u202d", "\u202e", "\u2060", "\u2066", "\u2067", "\u2068", "\u2069",
    "\ufeff",
]  # fmt: skip


@st.composite
def narratives(draw: st.DrawFn) -> str:
    """Narrative words, some with an invisible character inside, joined by separator runs."""
    parts: list[str] = []
    for word in draw(st.lists(st.sampled_from(WORDS), min_size=1, max_size=14)):
        if len(word) > 1 and draw(st.booleans()):
            cut = draw(st.integers(1, len(word) - 1))
            word = word[:cut] + draw(st.sampled_from(INVISIBLE)) + word[cut:]
        parts.append(word)
        parts.append("".join(draw(st.lists(st.sampled_from(SEPARATORS + INVISIBLE), min_size=1, max_size=3))))
    return "".join(parts)


def _same_decision(narrative: str) -> None:
    stored = clean_text(narrative)
    assert signature(classify(stored, policy=POLICY)) == signature(classify(narrative, policy=POLICY))


@settings(deadline=None, max_examples=400, suppress_health_check=[HealthCheck.too_slow])
@given(narrative=narratives())
@example(narrative="he says he wants to kill\x85himself")
@example(narrative="hearing voices\x1ehas a gun")
@example(narrative="son says he will kill\u2028himself")
@example(narrative="says she wants to end\x0bher life")
@example(narrative="hit\x0chis mother")
@example(narrative="he has a g\u200bun and wants to ki\u200bll himself")
@example(narrative="she wants to kill her\u00adself")
@example(narrative="no weapons\x1ehas a gun")
@example(narrative="he overdosed\r\nno ")  # a CRLF is one line break, as intake stores it
def test_stored_narrative_decides_like_the_raw_one(narrative: str) -> None:
    _same_decision(narrative)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("kill\x85himself", "kill\nhimself"),
        ("voices\x1ehas\x1fa gun", "voices\nhas a gun"),
        ("a\u2028b\u2029c\x0bd\x0ce\x1cf\x1dg", "a\nb\nc\nd\ne\nf\ng"),
        ("line\r\nnext\rlast", "line\nnext\nlast"),
        ("bell\x07esc\x1bdel\x7fc1\x80x\x9fy\x00z", "bell esc del c1 x y z"),
        ("ki\u200bll her\u00adself wo\u2060rd \ufeffx\u202ey\u2066z\u2069", "kill herself word xyz"),
        ("tab\tstays\nand no-break\u00a0space too", "tab\tstays\nand no-break\u00a0space too"),
        ("Cafe\u0301 e\u200b\u0301", "Caf\u00e9 \u00e9"),
    ],
)
def test_clean_text_keeps_words_apart_and_hidden_characters_out(raw: str, expected: str) -> None:
    assert clean_text(raw) == expected
    assert clean_text(expected) == expected


@given(text=st.text(alphabet=st.characters(codec="utf-8"), max_size=200))
def test_clean_text_is_idempotent_and_leaves_no_control_or_format_character(text: str) -> None:
    cleaned = clean_text(text)
    assert clean_text(cleaned) == cleaned
    assert not any(unicodedata.category(c) in ("Cc", "Cf") and c not in "\t\n" for c in cleaned)


def test_every_control_and_format_character_has_one_reading() -> None:
    for point in [*range(0x00, 0xA0), 0x00AD, 0x200B, 0x202E, 0x2028, 0x2029, 0x2060, 0xFEFF]:
        char = chr(point)
        category = unicodedata.category(char)
        replacement = control_replacement(char)
        if char in "\t\n":
            assert replacement is None
        elif category == "Cf":
            assert replacement == ""
        elif category in ("Cc", "Zl", "Zp"):
            assert replacement in (" ", "\n"), repr(char)
        else:
            assert replacement is None, repr(char)


def test_separator_decides_and_points_into_the_callers_text() -> None:
    raw = "he says he wants to kill\x85himself"
    decision = classify(raw, policy=POLICY)
    assert "suicidal_ideation" in codes(decision)
    span = next(i.span for i in decision.indicators if i.code == "suicidal_ideation")
    assert "\x85" in raw[span[0] : span[1]]
    assert classify(clean_text(raw), policy=POLICY).route is decision.route


@pytest.mark.parametrize("call_type", ["SUIC\u200bTHRT", "\u200bEDP", "SUICIDE\x85THREAT"])
def test_call_type_decides_like_the_stored_one(call_type: str) -> None:
    assert signature(classify("", call_type)) == signature(classify("", clean_text(call_type)))
