"""Text the policy cannot read is held for review by an interpreter, never decided silently."""

from __future__ import annotations

import pytest
from triage.policy import classify

from tests.unit.triage.helpers import read_jsonl

# Lines in languages the policy does not cover (``tests/data/uncovered_language.jsonl``, also
# read by ``make eval``): ``language`` is what each is written in, ``detector`` what must catch it:
# lingua's candidates (which name it), Haitian Creole's own word list, or the wide check for
# Latin-script languages the candidates were not built for.
LINES = read_jsonl("uncovered_language.jsonl")
UNCOVERED = [(line["language"], line["narrative"]) for line in LINES if line["detector"] != "wide"]


@pytest.mark.parametrize(("language", "narrative"), UNCOVERED)
def test_uncovered_language_is_held_for_review(language: str, narrative: str) -> None:
    decision = classify(narrative)
    assert decision.needs_review and decision.rule == "R0_language_not_covered"
    assert "interpreter" in decision.explanation
    assert decision.priority <= 2
    if language != "ht":  # Haitian Creole is recognised by its own word list, not lingua
        assert decision.language == language


def test_shorthand_never_reads_inside_another_language() -> None:
    # Vietnamese "đe dọa" (threaten) folds to "de doa": it is not DOA, dead on arrival.
    decision = classify("Có người đe dọa tôi")
    assert "death_investigation" not in {i.code for i in decision.indicators}
    assert decision.needs_review


@pytest.mark.parametrize("narrative", ["😭😭😭🙏", "12345 6789", "!!! ???", "\u200b\u200b"])
def test_text_without_words_never_raises(narrative: str) -> None:
    decision = classify(narrative)
    assert decision.language == "und"


def test_a_call_type_still_counts_when_the_narrative_is_unread() -> None:
    decision = classify("Мой брат хочет умереть", "SUICTHRT")
    assert decision.crisis and decision.needs_review and decision.rule == "R0_language_not_covered"


@pytest.mark.parametrize(
    "narrative",
    [
        "RP ADV SUBJ W/ KNIFE IN THE LOBBY",
        "PHYS ALTERC IN PROG, NEG WEPS",
        "25-B-3-V",
        "Man crying at the bus stop",
    ],
)
def test_covered_text_is_decided_as_usual(narrative: str) -> None:
    decision = classify(narrative)
    assert decision.rule != "R0_language_not_covered" and decision.readable_share > 0.5


# Read, but partly in another language: decided on what was read, and never silently.
@pytest.mark.parametrize(
    "narrative",
    [
        "Man with a knife yelling, сосед говорит он хочет убить",
        "Woman crying in the lobby, nói rằng cô ấy muốn chết rồi",
        "Guy yelling at cars, 그는 칼을 가지고 있다고 말했다",
    ],
)
def test_a_narrative_partly_in_an_unread_language_is_held_for_review(narrative: str) -> None:
    decision = classify(narrative)
    assert decision.needs_review  # held whole (R0) when most is unread, else decided and flagged
    assert decision.rule == "R0_language_not_covered" or "could not be read" in decision.explanation


def test_half_read_is_decided_on_the_read_half_and_flagged() -> None:
    decision = classify("Man with a knife yelling, сосед говорит он хочет убить")
    assert decision.rule != "R0_language_not_covered" and "weapon" in {i.code for i in decision.indicators}
    assert decision.needs_review and "could not be read" in decision.explanation


@pytest.mark.parametrize(
    "narrative",
    ["Man crying on the bench 😢", "mi hermano is hearing voices y tiene un knife", "Pt c/o CP, SOB x2 hrs"],
)
def test_a_fully_read_narrative_is_not_held_for_language(narrative: str) -> None:
    assert "could not be read" not in classify(narrative).explanation


# Latin-script languages lingua's candidates do not include: the candidates read them as English
# or Spanish, so the policy's own vocabulary and the wide detector must catch them.
NOT_A_CANDIDATE = [line["narrative"] for line in LINES if line["detector"] == "wide"]


@pytest.mark.parametrize("narrative", NOT_A_CANDIDATE)
def test_a_language_the_detector_was_not_built_for_is_held(narrative: str) -> None:
    decision = classify(narrative)
    assert decision.needs_review and decision.rule == "R0_language_not_covered"
    assert decision.language not in {"en", "es"}


# Short informal Spanish that lingua alone gives to Tagalog or Portuguese at low confidence.
@pytest.mark.parametrize(
    "narrative",
    [
        "mi tio se desmayo y no respira",
        "mi tia no respira",
        "mi papa se desmayo",
        "un bolo anda con un machete",
        "Hay un guy con una gun en el",
        "mi sobrina se encerro",
        "hay un robo en",
    ],
)
def test_short_informal_spanish_is_read(narrative: str) -> None:
    decision = classify(narrative)
    assert decision.rule != "R0_language_not_covered"
    assert decision.language == "es" and decision.readable_share == 1.0


# English CAD shorthand, in capitals or lower case, is never taken for another language.
@pytest.mark.parametrize(
    "narrative",
    [
        "RP ADV SUBJ W/ KNIFE IFO RES",
        "PT C/O SI, HX BIPOLAR",
        "veh vs ped",
        "pt c/o cp x2 hrs",
        "2 veh tc w/ inj, 1 pt uncon, fd enrt",
        "dom dist, susp left on foot, wma 30s blk hoodie",
        "Happened 20 minutes ago, suspect fled on foot.",
        "I just strangled my girlfriend",
    ],
)
def test_english_shorthand_and_terse_english_are_read(narrative: str) -> None:
    decision = classify(narrative)
    assert decision.rule != "R0_language_not_covered" and decision.language == "en"


# Shorthand that folding makes out of another language's letters never fires, in any sentence.
@pytest.mark.parametrize(
    "narrative",
    [
        "RP says the man đe dọa everyone in the store",
        "Mi vecino me está đe dọa, no tiene armas",
        "the guy keeps saying đe dọa and walking away",
    ],
)
def test_folded_letters_never_make_shorthand(narrative: str) -> None:
    codes = {i.code for i in classify(narrative).indicators}
    assert not codes & {"death_investigation", "possible_death"}


@pytest.mark.parametrize("narrative", ["RP says subj is DOA", "pt doa at scene"])
def test_ascii_shorthand_still_fires(narrative: str) -> None:
    assert "death_investigation" in {i.code for i in classify(narrative).indicators}
