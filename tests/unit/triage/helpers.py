"""Shared bits of the triage unit tests: the data folder and what a decision looks like."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from dispatch_shared.events import TriageDecision
from triage.policy import invariance_signature as signature  # the tests' name for it

__all__ = ["DATA", "codes", "negated_codes", "read_jsonl", "signature"]

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
