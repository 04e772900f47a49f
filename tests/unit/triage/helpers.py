"""Shared bits of the triage unit tests: the data folder and what a decision looks like."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from dispatch_shared.events import Route, TriageDecision
from triage.policy import classify
from triage.policy import invariance_signature as signature  # the tests' name for it

__all__ = [
    "DATA",
    "codes",
    "labelled_params",
    "mislabelled",
    "negated_codes",
    "read_jsonl",
    "signature",
    "under_escalated",
]

DATA = Path(__file__).resolve().parents[2] / "data"


def read_jsonl(name: str) -> list[dict[str, Any]]:
    """Records of a JSON-lines file in ``tests/data``."""
    with (DATA / name).open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def codes(decision: TriageDecision) -> set[str]:
    """Codes of the indicators that fired."""
    return {i.code for i in decision.indicators}


def negated_codes(decision: TriageDecision) -> set[str]:
    """Codes of the indicators found but negated or in the past."""
    return {i.code for i in decision.negated}


_SEVERITY = {Route.CLINICIAN_ONLY: 0, Route.CO_RESPONSE: 1, Route.POLICE: 2}


def labelled_params(calls: list[dict[str, Any]], known_gaps: dict[str, str]) -> list[Any]:
    """Labelled calls as pytest params (id: the call's ``id``); a call in ``known_gaps`` (id -> why
    the policy still misreads it) is a strict xfail, so a fix must also take it out of the dict."""
    return [
        pytest.param(
            call,
            id=call["id"],
            marks=[pytest.mark.xfail(reason=known_gaps[call["id"]], strict=True)]
            if call["id"] in known_gaps
            else [],
        )
        for call in calls
    ]


def mislabelled(call: dict[str, Any]) -> dict[str, tuple[Any, Any]]:
    """The labelled fields the policy decides otherwise: field -> (decided, expected); {} if none."""
    got = classify(call.get("narrative", ""), call.get("call_type")).model_dump(mode="json")
    return {k: (got[k], v) for k, v in call["expected"].items() if got[k] != v}


def under_escalated(calls: list[dict[str, Any]]) -> list[str]:
    """Ids of labelled calls routed less safely than labelled (clinician-only before co-response
    before police); calls with no labelled route are skipped."""
    return [
        call["id"]
        for call in calls
        if "route" in call["expected"]
        and _SEVERITY[classify(call.get("narrative", ""), call.get("call_type")).route]
        < _SEVERITY[Route(call["expected"]["route"])]
    ]
