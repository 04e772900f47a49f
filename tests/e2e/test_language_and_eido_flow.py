"""Language and EIDO through the three services on the real broker, as routing shows the calls.

A Spanish call is routed as its English meaning is, with its language on routing's call view;
calls triage could not read, wholly or in part, are flagged for an interpreter; an EIDO posted
to intake about a person on a bridge railing ends routed co-response.
"""

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from dispatch_shared.events import Route

from tests.e2e.conftest import Stack
from tests.e2e.test_call_changes_flow import post_call, routing_until
from tests.stack import auth

pytestmark = pytest.mark.e2e

EIDO = Path(__file__).resolve().parents[1] / "data" / "eido"

# The same call in Spanish and in English: a man hearing voices who wants to die, unarmed.
SPANISH = "Mi hermano está escuchando voces y dice que se quiere morir, no tiene armas"
ENGLISH = "My brother is hearing voices and says he wants to die, he has no weapons"
# Half in words triage cannot read (decided on the English, held); wholly unread (held as R0).
PARTLY_READ = "Man with a knife yelling, сосед говорит он хочет убить"
UNREAD = "Anh trai tôi nói rằng anh ấy muốn chết"

# What routing does with a call: the same for a call and its translation.
ROUTED_ON = ("route", "priority", "threat_level", "crisis", "ems_required", "needs_review")


def routed(stack: Stack, call_id: str) -> dict[str, Any]:
    """Routing's view of the call once it is routed (assigned or queued: no units here)."""
    return routing_until(stack, call_id, lambda call: call["status"] in ("assigned", "queued"), "the call")


def test_a_spanish_call_is_routed_as_its_english_meaning_and_unread_ones_are_flagged(stack: Stack) -> None:
    with httpx.Client(base_url=stack["intake"].url, timeout=10) as intake:
        ids = {text: post_call(intake, text) for text in (SPANISH, ENGLISH, PARTLY_READ, UNREAD)}
    calls = {text: routed(stack, call_id) for text, call_id in ids.items()}

    spanish, english = calls[SPANISH], calls[ENGLISH]
    assert {name: spanish[name] for name in ROUTED_ON} == {name: english[name] for name in ROUTED_ON}
    assert spanish["crisis"] and spanish["route"] != Route.POLICE  # read, not guessed
    assert (spanish["language"], spanish["needs_interpreter"]) == ("es", False)
    assert (english["language"], english["needs_interpreter"]) == ("en", False)
    assert spanish["decision"]["readable_share"] == 1.0

    partly = calls[PARTLY_READ]
    assert partly["decision"]["rule"] != "R0_language_not_covered"  # decided on what was read
    assert partly["needs_review"] and partly["decision"]["readable_share"] < 0.8
    assert partly["needs_interpreter"]
    unread = calls[UNREAD]
    assert unread["decision"]["rule"] == "R0_language_not_covered"
    assert (unread["language"], unread["needs_interpreter"]) == ("vi", True)

    assert SPANISH not in stack.logs() and UNREAD not in stack.logs()  # narratives never logged


def test_an_eido_about_a_person_on_a_bridge_railing_ends_routed_co_response(stack: Stack) -> None:
    document = json.loads((EIDO / "bridge-railing.json").read_text(encoding="utf-8"))
    with httpx.Client(base_url=stack["intake"].url, timeout=10) as intake:
        posted = intake.post("/v1/eido", json=document, headers=auth("cad"))
    assert posted.status_code == 202, posted.text
    call = routed(stack, posted.json()["call_id"])
    assert call["route"] == Route.CO_RESPONSE
    assert call["crisis"] and call["language"] == "en"
    assert call["location"] is not None  # the incident's PIDF-LO came through
