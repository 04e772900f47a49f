"""The triage engine: a call's words and call type in, the explained decision of ROUTING_POLICY out.

Plain Python over a compiled lexicon. Steps: prepare the text (one Unicode form, offsets kept),
blank the descriptors of who someone is, find indicator phrases, drop those a negation or a
past-tense cue removes, then apply the threat, route and priority rules of the policy.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Iterable
from dataclasses import dataclass

from dispatch_shared.events import Indicator, IndicatorFamily, Route, ThreatLevel, TriageDecision

from triage.policy.lexicon import Policy
from triage.policy.text import blank, prepare

B, S, M = IndicatorFamily.BEHAVIORAL, IndicatorFamily.SAFETY, IndicatorFamily.MEDICAL
_THREAT_BY_SEVERITY = {
    "critical": ThreatLevel.IMMINENT,
    "high": ThreatLevel.HIGH,
    "elevated": ThreatLevel.ELEVATED,
}
_THREAT_ORDER = [ThreatLevel.NONE, ThreatLevel.ELEVATED, ThreatLevel.HIGH, ThreatLevel.IMMINENT]
_SENTENCE_END = re.compile(r"[.;!?\n]")
_CLAUSE_END = re.compile(r"[.;!?,\n]|\s-\s")
_WORD = re.compile(r"[a-z0-9']+", re.IGNORECASE)
# Call types are short codes: punctuation only separates words there.
_CALL_TYPE_PUNCT = re.compile(r"[^a-z0-9/]+", re.IGNORECASE)
_CALL_TYPE_WINDOW = 2


@dataclass(frozen=True)
class Finding:
    """An indicator found in the text, before the rules look at it."""

    code: str
    start: int
    end: int
    source: str  # "narrative" or "call_type"
    sentence: int
    removed_by: str | None = None  # "negation" or "past" when it does not count


class _Cues:
    """Negation, uncertainty and past-tense cues of one text, and where clauses end."""

    def __init__(self, policy: Policy, text: str, taken: list[tuple[int, int]]) -> None:
        self.negations: list[tuple[int, int]] = []
        self.uncertain: list[tuple[int, int]] = []
        self.past_before: list[tuple[int, int]] = []
        self.past_after: list[tuple[int, int]] = []
        self.boundaries: list[int] = []
        lists = {
            "neg": self.negations,
            "unc": self.uncertain,
            "pastb": self.past_before,
            "pasta": self.past_after,
        }
        self.boundaries = [m.start() for m in _CLAUSE_END.finditer(text)]
        for start, end, kind in policy.cues.find(text):
            if kind == "term":
                self.boundaries.append(start)
            elif not _overlaps(start, end, taken):
                # A cue inside a matched phrase belongs to it: "not breathing" negates nothing.
                lists[kind].append((start, end))
        self.boundaries.sort()
        self.text = text

    def _same_clause(self, start: int, end: int) -> bool:
        index = bisect.bisect_left(self.boundaries, start)
        return index >= len(self.boundaries) or self.boundaries[index] >= end

    def _words_between(self, start: int, end: int) -> int:
        return len(_WORD.findall(self.text, start, end))

    def before(self, cues: list[tuple[int, int]], start: int, window: int) -> bool:
        """Is a cue of ``cues`` shortly before ``start`` in the same clause?"""
        return any(
            cue_end <= start
            and self._same_clause(cue_end, start)
            and self._words_between(cue_end, start) <= window
            for _cue_start, cue_end in cues
        )

    def after(self, cues: list[tuple[int, int]], end: int, window: int) -> bool:
        """Is a cue of ``cues`` shortly after ``end`` in the same clause?"""
        return any(
            cue_start >= end
            and self._same_clause(end, cue_start)
            and self._words_between(end, cue_start) <= window
            for cue_start, _cue_end in cues
        )


def _overlaps(start: int, end: int, spans: list[tuple[int, int]]) -> bool:
    return any(start < span_end and span_start < end for span_start, span_end in spans)


def _find(policy: Policy, text: str, *, source: str) -> list[Finding]:
    """Indicators in ``text`` with negation and past-tense cues applied."""
    matcher = policy.narrative if source == "narrative" else policy.call_type
    hits = matcher.find(text)
    if not hits:
        return []
    cues = _Cues(policy, text, [(start, end) for start, end, _code in hits])
    sentence_ends = [m.start() for m in _SENTENCE_END.finditer(text)] if source == "narrative" else []
    window = policy.negation_window if source == "narrative" else _CALL_TYPE_WINDOW
    findings = []
    for start, end, code in hits:
        spec = policy.specs[code]
        removed_by = None
        if cues.before(cues.negations, start, window) and not cues.before(cues.uncertain, start, window):
            removed_by = "negation"
        elif (
            source == "narrative"
            and "historical" not in spec.tags
            and (cues.before(cues.past_before, start, window) or cues.after(cues.past_after, end, window))
        ):
            removed_by = "past"
        sentence = bisect.bisect_left(sentence_ends, start)
        findings.append(Finding(code, start, end, source, sentence, removed_by))
        findings.extend(
            Finding(implied, start, end, source, sentence, removed_by) for implied in spec.implies
        )
    return findings


def _indicator(policy: Policy, finding: Finding, original: str, origin_span: tuple[int, int]) -> Indicator:
    start, end = origin_span
    return Indicator(
        family=policy.specs[finding.code].family,
        code=finding.code,
        text=original[start:end],
        span=(start, end),
        source=finding.source,
    )


def _labels(policy: Policy, findings: Iterable[Finding], family: IndicatorFamily) -> str:
    labels = dict.fromkeys(
        policy.specs[f.code].label for f in findings if policy.specs[f.code].family == family
    )
    return ", ".join(labels)


def _threat(policy: Policy, active: list[Finding]) -> ThreatLevel:
    """The threat table: the most severe safety indicator, with violence plus a weapon imminent."""
    level = ThreatLevel.NONE
    for finding in active:
        spec = policy.specs[finding.code]
        severity = spec.severity if spec.family == S else None
        if severity and _THREAT_ORDER.index(_THREAT_BY_SEVERITY[severity]) > _THREAT_ORDER.index(level):
            level = _THREAT_BY_SEVERITY[severity]
    violence = {(f.source, f.sentence) for f in active if "violence" in policy.specs[f.code].tags}
    weapons = {(f.source, f.sentence) for f in active if "weapon" in policy.specs[f.code].tags}
    # Violence against a person with a weapon at hand is a weapon being used: imminent. A
    # call-type weapon ("ASSAULT WEAPON") is at hand in every sentence of the call.
    if (
        violence
        and weapons
        and (violence & weapons or any(source == "call_type" for source, _ in weapons | violence))
    ):
        level = ThreatLevel.IMMINENT
    return level


def decide(
    policy: Policy, active: list[Finding], *, narrative_text: str, call_type_only: bool
) -> dict[str, object]:
    """Apply the threat, route and priority rules to the indicators that count."""
    families = {policy.specs[f.code].family for f in active}
    tags = {tag for f in active for tag in policy.specs[f.code].tags}
    behavioral, safety, medical = B in families, S in families, M in families
    medical_critical = any(
        policy.specs[f.code].family == M and "critical" in policy.specs[f.code].tags for f in active
    )
    threat = _threat(policy, active)
    b_labels, s_labels, m_labels = (_labels(policy, active, family) for family in (B, S, M))

    clinician_followup = False
    needs_review = call_type_only
    if threat == ThreatLevel.IMMINENT:
        route, rule = Route.POLICE, "R1_imminent_threat"
        clinician_followup = behavioral
        explanation = f"Imminent danger ({s_labels}): police at once"
        explanation += f", with a clinician to follow up on the crisis ({b_labels})." if behavioral else "."
    elif behavioral and threat in (ThreatLevel.HIGH, ThreatLevel.ELEVATED):
        route, rule = Route.CO_RESPONSE, "R2_behavioral_with_threat"
        explanation = (
            f"Behavioral crisis ({b_labels}) with {threat.value} safety risk ({s_labels}): "
            "officer and clinician together."
        )
    elif behavioral:
        route, rule = Route.CLINICIAN_ONLY, "R3_behavioral_no_threat"
        explanation = f"Behavioral crisis ({b_labels}) with no safety risk: clinician-only team"
        explanation += f", with EMS for {m_labels}." if medical else "."
    elif medical and not safety:
        route, rule = Route.CLINICIAN_ONLY, "R4_medical_no_threat"
        explanation = (
            f"Medical need ({m_labels}) with no safety risk: EMS with a clinician-only team, no police."
        )
    elif safety:
        route, rule = Route.POLICE, "R5_safety_no_crisis"
        explanation = f"Safety risk ({s_labels}) with no behavioral crisis: police"
        explanation += f", with EMS for {m_labels}." if medical else "."
    else:
        route, rule = Route.POLICE, "R6_nothing_fired"
        describes_nothing = not policy.incident.pattern.search(narrative_text) or bool(
            policy.vague.pattern.search(narrative_text)
        )
        needs_review = needs_review or describes_nothing
        explanation = "No behavioral, safety or medical indicator: police at the lowest priority"
        explanation += ", for review since the call describes no behavior." if needs_review else "."

    if threat == ThreatLevel.IMMINENT or medical_critical or "lethal_means" in tags:
        priority = 1
    elif threat == ThreatLevel.HIGH or "acute" in tags or medical:
        priority = 2
    elif behavioral or threat == ThreatLevel.ELEVATED:
        priority = 3
    else:
        priority = 4
    return {
        "route": route,
        "threat_level": threat,
        "crisis": behavioral,
        "ems_required": medical,
        "clinician_followup": clinician_followup,
        "needs_review": needs_review,
        "priority": priority,
        "rule": rule,
        "explanation": explanation,
    }


def _call_type_text(call_type: str) -> str:
    return _CALL_TYPE_PUNCT.sub(lambda m: " " * len(m.group()), call_type)


def classify(narrative: str, call_type: str | None = None, *, policy: Policy) -> TriageDecision:
    """Decide the response for a call from what the caller described and the CAD call type."""
    prepared = prepare(narrative or "")
    descriptor_spans = [(start, end) for start, end, _ in policy.descriptors.find(prepared.text)]
    text = blank(prepared.text, descriptor_spans)
    findings = _find(policy, text, source="narrative")

    ct_prepared = prepare(call_type or "")
    if call_type:
        findings += _find(policy, _call_type_text(ct_prepared.text), source="call_type")

    def to_indicator(finding: Finding) -> Indicator:
        source_text, source_prepared = (
            (narrative, prepared) if finding.source == "narrative" else (call_type or "", ct_prepared)
        )
        return _indicator(
            policy, finding, source_text, source_prepared.original_span(finding.start, finding.end)
        )

    active = [f for f in findings if f.removed_by is None]
    # Call-type safety indicators are never removed by the narrative; the narrative's own
    # negations never reach the call type, since each source is read on its own.
    outcome = decide(
        policy,
        active,
        narrative_text=text,
        call_type_only=not text.strip() and bool(call_type and call_type.strip()),
    )
    return TriageDecision(
        indicators=[to_indicator(f) for f in active],
        negated=[to_indicator(f) for f in findings if f.removed_by is not None],
        policy_version=policy.version,
        **outcome,
    )
