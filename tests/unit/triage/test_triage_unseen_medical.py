"""Medical, welfare, self-harm and school-threat calls in English, labelled from the policy before
the classifier read them (their Spanish counterparts are in ``spanish_unseen.jsonl``).

Each kind has a few calls and near misses that must not fire: threats to shoot up a school or
other crowd and planned shootings (a threat to others, not shots fired, and not drug use), a
shooting drill; medical shorthand and protocol answers (UNC, UNR, DIB, ALOC, AMS, SZ, "PT C/O CP",
"AWAKE: NO", "FOUND DOWN") and symptoms described without their name (a seizure, low blood
sugar, allergic swelling); the medical half of a confused patient; self-harm shorthand
("CUTTING"), delusions spoken at people, a welfare concern without the word; a heart attack
that is not a cardiac arrest, and blue lips while breathing. Near misses: "CP", "LOC" and "UNC"
in other senses, "shoot hoops", "photo shoot", "shooting range", "cutting the grass", "cutting
class", "cut his hair", "the mail".
"""

from __future__ import annotations

from typing import Any

import pytest
from triage.policy import classify

from tests.unit.triage.helpers import (
    codes,
    labelled_params,
    mislabelled,
    read_jsonl,
    under_escalated,
)

UNSEEN = read_jsonl("medical_unseen.jsonl")
# Labelled calls the policy still misreads, each with why; strict, so a fix must remove it here.
KNOWN_GAPS: dict[str, str] = {}


@pytest.mark.parametrize("call", labelled_params(UNSEEN, KNOWN_GAPS))
def test_unseen_medical_call(call: dict[str, Any]) -> None:
    assert mislabelled(call) == {}


def test_unseen_medical_calls_are_never_under_escalated() -> None:
    assert len(UNSEEN) >= 55
    assert under_escalated(UNSEEN) == []


# Which indicator a reading fires, and which it must not: a planned shooting is a threat to
# others and not shots fired; a heart attack is not a cardiac arrest; shorthand in other senses
# fires nothing medical.
@pytest.mark.parametrize(
    ("narrative", "fired", "not_fired"),
    [
        ("he keeps talking about shooting up his school", "threat_to_others", "intoxication"),
        ("there's going to be a school shooting on Friday", "threat_to_others", "shots_fired"),
        ("va a hacer un tiroteo en la escuela", "threat_to_others", "shots_fired"),
        ("she was in a lockdown drill for a school shooting today", None, "shots_fired"),
        ("my husband is having a heart attack", "cardiac", "cardiac_arrest"),
        ("no pulse, CPR in progress", "cardiac_arrest", None),
        ("se le pusieron los labios morados pero respira", "breathing_problem", "not_breathing"),
        ("CP ON SCENE, UNITS STAGING", None, "chest_pain"),
        ("RP WEARING UNC JACKET", None, "unconscious"),
        ("TEEN CUTTING", "self_harm", None),
        ("she is cutting onions and crying", None, "self_harm"),
        ("her mail is piling up", "welfare_concern", None),
    ],
)
def test_reading_fires(narrative: str, fired: str | None, not_fired: str | None) -> None:
    found = codes(classify(narrative))
    assert fired is None or fired in found, found
    assert not_fired is None or not_fired not in found, found
