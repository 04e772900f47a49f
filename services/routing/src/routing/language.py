"""The language of a call as the console shows it, and whether reading it needs an interpreter.

Language is a descriptor, never a reason to route differently (docs/triage-policy.md):
routing only records it so a dispatcher sees at once which calls need an interpreter or a
second look before anyone acts on their words.
"""

from __future__ import annotations

from dispatch_shared.events import TriageDecision

__all__ = ["LANGUAGE_NOT_COVERED_RULE", "language_code", "needs_interpreter"]

LANGUAGE_NOT_COVERED_RULE = "R0_language_not_covered"
"""Triage's rule for a narrative its policy could not read: decided on the call type, held for review.

Which languages are covered is the triage policy's to say (its language packs); routing only
reads the verdict, so the two can never disagree.
"""


def language_code(decision: TriageDecision) -> str | None:
    """The decision's language as stored and shown: a lower-case ISO 639 code (2 or 3 letters).

    None when triage sent something else, which is then shown as no language rather than stored.
    """
    code = decision.language.strip().lower()
    return code if 2 <= len(code) <= 3 and code.isascii() and code.isalpha() else None


def needs_interpreter(decision: TriageDecision) -> bool:
    """Whether the call's words must be read through an interpreter (or reviewed) before acting:
    triage could not read the narrative (rule ``R0_language_not_covered``)."""
    return decision.rule == LANGUAGE_NOT_COVERED_RULE
