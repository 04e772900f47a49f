"""Spanish and code-switched calls are triaged like English ones (the Spanish language pack)."""

from __future__ import annotations

from typing import Any

import pytest
from triage.policy import classify

from tests.unit.triage.helpers import labelled_params, mislabelled, read_jsonl, under_escalated

SPANISH = read_jsonl("dev_calls_es.jsonl")
# Spanish and Spanglish calls written for this project and labelled from the policy before the
# classifier ever read them (dialects, capitals, shorthand, negation, uncertainty, past, every
# indicator family). The same Spanish call in English is tested in test_triage_language_pairs.py.
UNSEEN = read_jsonl("spanish_unseen.jsonl")
# Labelled calls the policy still misreads, each with why; strict, so a fix must remove it here.
KNOWN_GAPS = {
    "es-unseen-28": "an English pronoun for a weapon named earlier ('pointing it at people') is not "
    "read as brandishing: the phrase matcher cannot look back to the weapon without swallowing "
    "what stands between",
}


@pytest.mark.parametrize("call", SPANISH, ids=[c["id"] for c in SPANISH])
def test_spanish_dev_call(call: dict[str, Any]) -> None:
    got = classify(call["narrative"], call.get("call_type")).model_dump(mode="json")
    expected = call["expected"]
    assert {k: got[k] for k in expected} == expected


@pytest.mark.parametrize("call", labelled_params(UNSEEN, KNOWN_GAPS))
def test_unseen_spanish_call(call: dict[str, Any]) -> None:
    assert mislabelled(call) == {}


def test_unseen_spanish_calls_are_never_under_escalated() -> None:
    assert len(UNSEEN) >= 40
    assert under_escalated(UNSEEN) == []


# Whose behavior: a clitic says who does what to whom. "se va a matar" is the subject's suicidal
# threat; "me va a matar" and "matarla" are threats to someone else; a haircut or a cut hand
# while cooking is not self-harm; an unanswered phone is a welfare concern, not unconsciousness.
@pytest.mark.parametrize(
    ("narrative", "fired", "not_fired"),
    [
        ("Mi ex me va a matar, me lo dijo por mensaje", "threat_to_others", "suicidal_ideation"),
        ("Mi esposo me quiere matar", "threat_to_others", "suicidal_ideation"),
        ("Dice que va a matarla si lo deja", "threat_to_others", "suicidal_ideation"),
        ("Mi hijo dice que se va a matar", "suicidal_ideation", "threat_to_others"),
        ("me voy a matar si no vienen", "suicidal_ideation", "threat_to_others"),
        ("Está en el techo y amenaza con tirarse", "lethal_means", "threat_to_others"),
        ("Mi vecino va a tirar la basura en mi patio", None, "lethal_means"),
        ("Mi papá se cortó el pelo y está muy alterado", "acute_distress", "self_harm"),
        ("Mi hermano se cortó la mano cocinando y está sangrando", "bleeding", "self_harm"),
        ("Mi hija se está cortando las muñecas", "self_harm", None),
        ("Mi mamá no responde el teléfono desde ayer", "welfare_concern", "unconscious"),
        ("A mi hija le dio un ataque de pánico", "acute_distress", "seizure"),
        ("A mi papá le dio un ataque al corazón", "cardiac", "seizure"),
        ("Mi tío se cayó y no le para de salir sangre", "bleeding", None),
        ("Me amenazó con un cuchillo", "weapon", "weapon_used"),
        ("Un muchacho está pateando los carros de la calle", "property_destruction", "violence"),
        ("Me dispararon pero no me dieron", "shots_fired", "person_shot_or_stabbed"),
        ("Le dispararon, pero no le pegaron", "shots_fired", "person_shot_or_stabbed"),
        ("Le dispararon a mi primo en la pierna", "person_shot_or_stabbed", None),
    ],
)
def test_who_does_what_to_whom(narrative: str, fired: str | None, not_fired: str | None) -> None:
    found = {i.code for i in classify(narrative).indicators}
    assert fired is None or fired in found, found
    assert not_fired is None or not_fired not in found, found


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
        # "si" opening a clause: a clitic and a verb follow ("if he kills me")
        "SI ME MATA",
        "SI ME PEGA OTRA VEZ LO DEJO",
        "SI TE PEGA LLAMA AL 911",
        "DICE QUE SI LA GOLPEA SE VA",
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
