"""Spanish and code-switched calls are triaged like English ones (the Spanish language pack)."""

from __future__ import annotations

from typing import Any

import pytest
from triage.policy import classify

from tests.unit.triage.helpers import read_jsonl

SPANISH = read_jsonl("dev_calls_es.jsonl")


@pytest.mark.parametrize("call", SPANISH, ids=[c["id"] for c in SPANISH])
def test_spanish_dev_call(call: dict[str, Any]) -> None:
    got = classify(call["narrative"], call.get("call_type")).model_dump(mode="json")
    expected = call["expected"]
    assert {k: got[k] for k in expected} == expected


# The same call in Spanish and in English must get the same answer (our own wording).
PAIRS = [
    (
        "Mi hermano está escuchando voces y dice que se quiere morir, no tiene armas",
        "My brother is hearing voices and says he wants to die, he has no weapons",
    ),
    (
        "Hay un hombre acostado en la acera que no respira",
        "There is a man lying on the sidewalk who is not breathing",
    ),
    (
        "MI PAPA ESTA BORRACHO Y AMENAZANDO CON UN CUCHILLO A MI MAMA",
        "MY DAD IS DRUNK AND THREATENING MY MOM WITH A KNIFE",
    ),
    (
        "Mi vecina cree que la están siguiendo y habla sola en el pasillo",
        "My neighbor thinks she is being followed and talks to herself in the hall",
    ),
    ("Se oyeron disparos afuera del edificio", "Shots were heard outside the building"),
    ("mi hija se está cortando los brazos en el baño", "my daughter is cutting her arms in the bathroom"),
    (
        "el señor niega ideas suicidas pero está muy alterado",
        "the man denies suicidal thoughts but is very upset",
    ),
]


def _answer(narrative: str) -> tuple[object, ...]:
    d = classify(narrative)
    return (d.route, d.threat_level, d.crisis, d.ems_required, d.clinician_followup, d.priority)


@pytest.mark.parametrize(("spanish", "english"), PAIRS)
def test_same_call_same_answer_across_languages(spanish: str, english: str) -> None:
    assert _answer(spanish) == _answer(english)
    assert classify(spanish).language == "es" and classify(english).language == "en"


@pytest.mark.parametrize(
    "narrative",
    [
        "Hay un hombre esquizofrénico en la lavandería.",
        "Un señor del campamento está parado afuera de la tienda.",
    ],
)
def test_a_spanish_label_or_place_fires_nothing(narrative: str) -> None:
    decision = classify(narrative)
    assert decision.rule == "R6_nothing_fired" and not decision.indicators


# English shorthand that is also a Spanish word: capitalised "SI" (if, yes) among Spanish words
# stays a Spanish word; among English words it is still suicidal ideation.
@pytest.mark.parametrize(
    "narrative",
    [
        "SI NO CONTESTA LLAMEN OTRA VEZ",
        "DICE QUE SI TIENE ARMAS EN LA CASA",
        "LA SEÑORA DICE QUE SI ESTA RESPIRANDO",
        "SI, ESTA BIEN, SOLO CANSADO",
        "PREGUNTA SI VAN A MANDAR A ALGUIEN",
    ],
)
def test_spanish_si_is_not_suicidal_ideation(narrative: str) -> None:
    assert "suicidal_ideation" not in {i.code for i in classify(narrative).indicators}


@pytest.mark.parametrize(
    "narrative",
    ["pt c/o SI, plan to OD", "Pt with SI, no plan", "CLAIMS SI. HAS A KNIFE", "RP ADV SUBJ HAS SI"],
)
def test_english_si_is_still_suicidal_ideation(narrative: str) -> None:
    assert "suicidal_ideation" in {i.code for i in classify(narrative).indicators}
