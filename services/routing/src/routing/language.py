"""The language of a call as the console shows it, and whether reading it needs an interpreter.

Language is a descriptor, never a reason to route differently (docs/triage-policy.md):
routing only records it so a dispatcher sees at once which calls need an interpreter or a
second look before anyone acts on their words.
"""

from __future__ import annotations

from dispatch_shared.events import LANGUAGE_NOT_COVERED_RULE, PARTLY_READ_SHARE, TriageDecision

__all__ = ["language_code", "needs_interpreter"]


def language_code(decision: TriageDecision) -> str | None:
    """The decision's language as stored and shown: a lower-case ISO 639 code (2 or 3 letters).

    None when triage sent something else, which is then shown as no language rather than stored.
    """
    code = decision.language.strip().lower()
    return code if 2 <= len(code) <= 3 and code.isascii() and code.isalpha() else None


def needs_interpreter(decision: TriageDecision) -> bool:
    """Whether the call's words must be read through an interpreter (or reviewed) before acting.

    True when triage could not read the narrative (rule ``R0_language_not_covered``), or read
    only part of it and held the call for that reason: ``readable_share`` (0 to 1) below
    ``PARTLY_READ_SHARE`` with ``needs_review`` set. A call held for review with all of its words
    read is not flagged: an interpreter would not help.
    """
    if decision.rule == LANGUAGE_NOT_COVERED_RULE:
        return True
    return decision.needs_review and decision.readable_share < PARTLY_READ_SHARE
