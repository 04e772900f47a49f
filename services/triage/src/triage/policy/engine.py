"""The triage engine: a call's narrative and call type in, its explained decision out (docs/triage-policy.md).

Steps: prepare the text (offsets kept), blank protected descriptors, find phrases with one
combined regex, drop those a negation or a past-tense cue removes, add compound indicators,
read the call type, then apply the threat, route and priority rules. Plain Python, no I/O.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import TypedDict

from dispatch_shared.events import (
    LANGUAGE_NOT_COVERED_RULE,
    PARTLY_READ_SHARE,
    Indicator,
    IndicatorFamily,
    Route,
    ThreatLevel,
    TriageDecision,
)
from dispatch_shared.text import clean_text

from triage.policy.language import LanguageReading, identify
from triage.policy.lexicon import DEFAULT_POLICY_FILE, Policy, load_policy
from triage.policy.text import Prepared, blank, descriptor_spans, prepare

B, S, M = IndicatorFamily.BEHAVIORAL, IndicatorFamily.SAFETY, IndicatorFamily.MEDICAL
_THREAT_ORDER = (ThreatLevel.NONE, ThreatLevel.ELEVATED, ThreatLevel.HIGH, ThreatLevel.IMMINENT)
_TOKEN = re.compile(r"[^\W_]+(?:'[^\W_]+)?")
_CALL_TYPE_SEPARATORS = re.compile(r"[^a-z0-9]+")
_LIST_JOIN = re.compile(r"\b(?:or|nor)\b|/")
_LIST_AND = re.compile(r"\band\b|&")
# A comma list item that starts with its own subject is a new clause, not a listed item.
_NEW_SUBJECT = re.compile(
    r"^\s*(?:(?:and|or|but)\s+)?(?:he|she|they|it|i|we|you|there|subject|patient|pt|caller|"
    r"(?:his|her|their|the|my)\s+\w+\s+(?:is|was|has|are))\b"
)
_LIST_ITEM_WORDS = 5
_POST_NEGATION_REACH = 60  # characters after a phrase where its label's value may stand
# Dispatch protocol determinants (MPDS style): protocol, level, number, optional suffix.
_DETERMINANT_NARRATIVE = re.compile(r"\b(\d{1,3})-?([oa-e])-?(\d{1,2})(?:-?([a-z]))?(?![\w-])")
# At the start of a call type, its parts joined by nothing, a dash, an underscore or a space (a
# suffix also by a slash): an agency offence code "11B/01 - BURG OF BUS" is no determinant.
_DETERMINANT_CALL_TYPE = re.compile(
    r"[\W_]*(\d{1,3})[ _-]?([oa-e])[ _-]?(\d{1,2})(?:[ _/-]?([a-z]))?(?![a-z0-9/])"
)
Scoping = Callable[[str, list[tuple[str, int, int]]], list[str | None]]
"""Another negation and time scoping, for comparing methods: (narrative, narrative hits as
``(code, start, end)`` spans into it) -> each hit's ``removed_by`` ("negation", "past" or None)."""
# Acts of force against a person. Said of the past ("pulled a knife on his brother last month",
# "used to hit me"), each is a stated history of violence rather than a current indicator.
_VIOLENT_ACTS = frozenset(
    {
        "violence",
        "weapon_used",
        "weapon_brandished",
        "person_shot_or_stabbed",
        "homicide",
        "hostage",
        "violent_behavior",
    }
)
_HISTORY = "history_of_violence"
# A passive form tells of a victim, not of violence the person did: "was (badly) beaten", "got
# stabbed", "hit by her ex".
_PASSIVE_BEFORE = re.compile(r"\b(?:was|were|been|got|gotten|being)\s+(?:\w+ly\s+)?$")
_PASSIVE_IN = re.compile(r"(?:was|were|been|got|gotten|get|gets|being|is|are)\b|.*\bby\b")
# A state that began in the past still holds: "stopped taking her meds two days ago", "hasn't
# eaten since last week". A past cue does not take such a mention out.
_ONSET = re.compile(
    r"(?:stopped|stops|quit|quits|ran out|runs out|run out|(?:has|have|had)(?: not|n'?t)|no longer)\b"
)
# A call describing at most this many content words "describes no behavior at all".
_THIN_WORDS = 2
_MAX_LABELS = 3


@dataclass(frozen=True, slots=True)
class Hit:
    """A phrase found in the prepared text; ``removed_by`` says why it does not count, if so."""

    code: str
    start: int
    end: int
    source: str = "narrative"
    removed_by: str | None = None


class Outcome(TypedDict):
    """The rule-decided fields of a ``TriageDecision``."""

    route: Route
    threat_level: ThreatLevel
    crisis: bool
    ems_required: bool
    clinician_followup: bool
    needs_review: bool
    priority: int
    rule: str
    explanation: str


def invariance_signature(decision: TriageDecision) -> tuple[object, ...]:
    """What counterfactual invariance compares: every field a protected descriptor must not move."""
    return (
        decision.route,
        decision.threat_level,
        decision.crisis,
        decision.ems_required,
        decision.clinician_followup,
        decision.needs_review,
        decision.priority,
        tuple(sorted(i.code for i in decision.indicators)),
    )


@lru_cache(maxsize=1)
def default_policy() -> Policy:
    """The lexicon shipped with the package (callers with a ``PolicyStore`` pass its policy)."""
    return load_policy(DEFAULT_POLICY_FILE)


class _Scope:
    """Clause and sentence boundaries of one prepared text, for negation, past and compounds."""

    def __init__(self, policy: Policy, text: str) -> None:
        self.text = text
        clause = [m.span() for m in policy.clause_re.finditer(text)]
        self.clause_starts = [a for a, _ in clause]
        self.clause_ends = [b for _, b in clause]
        self.sentence_ends = [m.end() for m in policy.sentence_re.finditer(text)]
        # Most narratives hold no cue at all: one search each spares the per-phrase checks.
        self.any_negation = bool(policy.negation_re.search(text) or policy.post_negation_cue_re.search(text))
        self.any_aborted = bool(policy.aborted_re.search(text))
        self.any_past = bool(policy.past_before_re.search(text) or policy.past_after_re.search(text))

    def clause_start(self, position: int) -> int:
        index = bisect.bisect_right(self.clause_ends, position)
        return self.clause_ends[index - 1] if index else 0

    def clause_end(self, position: int) -> int:
        index = bisect.bisect_left(self.clause_starts, position)
        return self.clause_starts[index] if index < len(self.clause_starts) else len(self.text)

    def value_end(self, position: int) -> int:
        """Where the value of a label after ``position`` ends: at the second clause boundary.

        The first is the label's own ":" or " - "; the second ends its value, so in "WEAPONS: NO
        / VIOLENT: NO" the "NO" of one field is not read for another, and "WEAPONS: NONE but..."
        is a whole answer. Capped at ``_POST_NEGATION_REACH`` characters after ``position``.
        """
        index = bisect.bisect_left(self.clause_starts, position) + 1
        reach = min(len(self.text), position + _POST_NEGATION_REACH)
        return min(self.clause_starts[index], reach) if index < len(self.clause_starts) else reach

    def sentence(self, position: int) -> int:
        return bisect.bisect_right(self.sentence_ends, position)

    def sentence_start(self, position: int) -> int:
        index = bisect.bisect_right(self.sentence_ends, position)
        return self.sentence_ends[index - 1] if index else 0

    def sentence_end(self, position: int) -> int:
        index = bisect.bisect_right(self.sentence_ends, position)
        return self.sentence_ends[index] if index < len(self.sentence_ends) else len(self.text)


def _last_words(text: str, count: int) -> str:
    return " ".join(text.split()[-count:])


def _first_words(text: str, count: int) -> str:
    return " ".join(text.split()[:count])


def _removed_by(policy: Policy, scope: _Scope, hit: Hit, lower_bound: int) -> str | None:
    """``negation`` or ``past`` when a cue in the same clause takes the phrase out, else None."""
    if not (scope.any_negation or scope.any_past or scope.any_aborted):
        return None
    window = policy.spec.negation.window_tokens
    before = _last_words(scope.text[max(scope.clause_start(hit.start), lower_bound) : hit.start], window)
    if scope.any_negation:
        # Uncertainty ("not sure if", "might") keeps a mention alive: safety first when unsure.
        if before and policy.negation_re.search(before) and not policy.uncertainty_re.search(before):
            return "negation"
        if policy.post_negation_re.match(scope.text, hit.end, scope.value_end(hit.end)):
            return "negation"
        if _list_negated(policy, scope, hit):
            return "negation"
    tags = policy.definitions[hit.code].tags
    if "ingestion" in tags and policy.aborted_re.search(scope.text, hit.end, scope.sentence_end(hit.end)):
        return "negation"
    # A stated history of violence is itself the indicator: its own "history of" must not erase it.
    if scope.any_past and "historical" not in tags and not _ONSET.match(scope.text, hit.start, hit.end):
        after = _first_words(scope.text[hit.end : scope.clause_end(hit.end)], window)
        if (before and _past_before(policy, before)) or (after and policy.past_after_re.search(after)):
            return "past"
    return None


def _past_before(policy: Policy, before: str) -> bool:
    """A past cue in ``before`` (the words ahead of a mention) with no present cue after it."""
    cues = list(policy.past_before_re.finditer(before))
    return bool(cues) and not policy.present_re.search(before, cues[-1].end())


def _list_negated(policy: Policy, scope: _Scope, hit: Hit) -> bool:
    """Is ``hit`` an item of a negated comma list ("denies SI, HI, or AVH"; "no weapons, threats or
    fighting")? Items are short and carry no subject of their own; the list must close with "or"
    or "nor" ("and" too after a denial cue such as "denies"), and it ends at a sentence end or at
    any clause boundary other than its commas.
    """
    text = scope.text
    start = scope.sentence_start(hit.start)
    cue = next(reversed(list(policy.negation_re.finditer(text, start, hit.start))), None)
    if cue is None:
        return False
    between = text[cue.end() : hit.start]
    if "," not in between or policy.uncertainty_re.search(text, cue.start(), hit.start):
        return False
    tail = text[hit.end : scope.sentence_end(hit.end)]
    tail = tail[: m.start()] if (m := policy.clause_re.search(tail.replace(",", " "))) else tail
    if any(m.group() != "," for m in policy.clause_re.finditer(between)):
        return False
    items = between.split(",")
    if any(len(item.split()) > _LIST_ITEM_WORDS or _NEW_SUBJECT.match(item) for item in items[1:]):
        return False
    closing = between + " " + " ".join(tail.split()[:_LIST_ITEM_WORDS])
    if _LIST_JOIN.search(closing):
        return True
    return bool(_LIST_AND.search(closing) and policy.list_negation_re.fullmatch(cue.group()))


def _inherits_negation(policy: Policy, text: str, previous: Hit, hit: Hit) -> bool:
    """Lists share one negation: "no gun or knife", "doesn't have a gun, a knife or a bat"."""
    if previous.removed_by != "negation":
        return False
    between = text[previous.end : hit.start]
    words = _TOKEN.findall(between)
    if any(word not in policy.continuers for word in words):
        return False
    return previous.code == hit.code or bool(_LIST_JOIN.search(between))


def _narrative_hits(policy: Policy, text: str) -> tuple[list[Hit], bool, _Scope | None]:
    """Indicator phrases in ``text`` with negation and past applied; also whether a vague cue fired."""
    found = policy.matcher.find(text)
    if not found:
        return [], False, None
    scope = _Scope(policy, text)
    hits: list[Hit] = []
    vague = False
    previous_end = 0
    previous: Hit | None = None
    for match in found:
        entry = policy.entries[match.lastgroup or ""]
        start, end = match.span()
        if entry.kind == "vague":
            vague = True
        if entry.code is not None:
            hit = Hit(entry.code, start, end)
            removed = _removed_by(policy, scope, hit, previous_end)
            if removed is None and previous is not None and _inherits_negation(policy, text, previous, hit):
                removed = "negation"
            if removed is not None:
                hit = Hit(entry.code, start, end, removed_by=removed)
            hits.append(hit)
            previous = hit
        previous_end = end
    return hits, vague, scope


def _histories(text: str, hits: Iterable[Hit]) -> list[Hit]:
    """A stated history of violence (spans into ``text``) for each act of force in ``hits`` taken
    out as past, unless the person suffered it (a passive form): "STABBED SOMEONE IN 2019" is a
    history, "was stabbed in 2019" is not.
    """
    return [
        Hit(_HISTORY, hit.start, hit.end)
        for hit in hits
        if hit.removed_by == "past"
        and hit.code in _VIOLENT_ACTS
        and not _PASSIVE_IN.match(text, hit.start, hit.end)
        and not _PASSIVE_BEFORE.search(text[max(0, hit.start - 30) : hit.start])
    ]


def _with_also(policy: Policy, hits: Iterable[Hit]) -> list[Hit]:
    """Each hit plus the indicators it implies (HI is also a threat to others)."""
    out: list[Hit] = []
    for hit in hits:
        out.append(hit)
        out.extend(replace(hit, code=code) for code in policy.definitions[hit.code].also)
    return out


def _unique(hits: list[Hit]) -> list[Hit]:
    return list(dict.fromkeys(hits))


def _compounds(policy: Policy, scope: _Scope | None, active: list[Hit]) -> list[Hit]:
    """Two active indicators in one sentence that mean more together (violence + weapon)."""
    if scope is None:
        return []
    tagged = [(hit, set(policy.definitions[hit.code].tags)) for hit in active]
    emitted: list[Hit] = []
    for number, compound in enumerate(policy.spec.compounds):
        between_re = policy.compound_between.get(number)
        firsts = [h for h, tags in tagged if compound.first in tags]
        seconds = [h for h, tags in tagged if compound.second in tags]
        pair = next(
            (
                (a, b)
                for a in firsts
                for b in seconds
                if a is not b
                and (compound.scope == "call" or scope.sentence(a.start) == scope.sentence(b.start))
                and (not compound.ordered or a.end <= b.start)
                and (between_re is None or between_re.search(scope.text[a.end : b.start]))
            ),
            None,
        )
        if pair:
            a, b = pair
            emitted.append(Hit(compound.emit, min(a.start, b.start), max(a.end, b.end)))
    return emitted


def _victim_readings(policy: Policy, active: list[Hit]) -> set[Hit]:
    """Narrative hits that are a victim's fear or crying, not a crisis (docs/triage-policy.md, "Whose
    behavior"): the reading codes, when violence or a threat against someone also fired."""
    reading = policy.spec.victim
    if not any(h.code in reading.when for h in active):
        return set()
    return {h for h in active if h.code in reading.codes and h.source == "narrative"}


def normalise_call_type(call_type: str) -> str:
    """Lower case, words only: "127D_Suicide Threat Weapon" -> "127d suicide threat weapon"."""
    return _CALL_TYPE_SEPARATORS.sub(" ", call_type.lower()).strip()


def determinant_codes(policy: Policy, match: re.Match[str]) -> list[str]:
    """Codes of one protocol determinant match (protocol, level, number, suffix), [] if unknown."""
    protocol, level, number, suffix = match.groups()
    determinants = policy.spec.call_types.determinants
    table = determinants.protocols.get(str(int(protocol)))
    if table is None:
        return []
    codes = list(table.get(f"{level.upper()}{int(number)}", table.get("*", [])))
    if suffix:
        codes += determinants.suffixes.get(str(int(protocol)), {}).get(suffix.upper(), [])
    return codes


def call_type_codes(policy: Policy, call_type: str | None) -> list[str]:
    """Indicator codes a CAD call type stands for.

    An exact APCO/agency code first; else the protocol determinant it starts with (MPDS style,
    "25-B-3-V", "62D02W") plus keyword rules over the call type's words, once its negating
    qualifiers ("(NO SHOOTINGS)", "NO BIAS OR THREATS", "Traffic Acc/No Injury") are taken out.
    """
    # The same characters as intake stores: an invisible character must not split a word here.
    call_type = clean_text(call_type or "").strip()
    if not call_type:
        return []
    exact = policy.spec.call_types.codes.get(call_type.upper())
    if exact is not None:
        return list(exact)
    lowered = call_type.lower()
    unqualified = policy.qualifier_re.sub(" ", lowered)
    text = normalise_call_type(unqualified)
    whole = normalise_call_type(lowered)  # an ``unless`` reads the qualifiers too ("NON-URGENT")
    codes: list[str] = []  # each code once: "SUICIDE THREAT WEAPON" is one suicidal indicator
    if determinant := _DETERMINANT_CALL_TYPE.match(unqualified):
        codes.extend(dict.fromkeys(determinant_codes(policy, determinant)))
    for pattern, unless, emit in policy.call_type_rules:
        if pattern.search(text) and not (unless and unless.search(whole)):
            codes.extend(code for code in emit if code not in codes)
    # A suicide threat with a weapon is self-directed lethal means (docs/triage-policy.md, safety
    # indicators), whichever parts of the call type say each: "25-B-3-W", "SUICIDAL - ARMED".
    if "suicidal_ideation" in codes and "weapon" in codes and "lethal_means" not in codes:
        codes.append("lethal_means")
    return codes


def _thin(policy: Policy, text: str) -> bool:
    """Does the text describe (almost) nothing: only fillers, people and a place?"""
    content = [w for w in _TOKEN.findall(text) if w not in policy.fillers]
    return len(content) <= _THIN_WORDS


def _labels(policy: Policy, hits: Iterable[Hit], family: IndicatorFamily) -> str:
    labels = dict.fromkeys(
        policy.definitions[h.code].label for h in hits if policy.definitions[h.code].family is family
    )
    return ", ".join(list(labels)[:_MAX_LABELS])


def _decide(policy: Policy, active: list[Hit], needs_review: bool) -> Outcome:
    """The threat table, the route rules (first match wins) and the priority table."""
    definitions = [policy.definitions[h.code] for h in active]
    families = {d.family for d in definitions}
    threat = max(
        (d.threat for d in definitions if d.threat is not None),
        key=_THREAT_ORDER.index,
        default=ThreatLevel.NONE,
    )
    crisis, medical, safety = B in families, M in families, S in families
    b, s, m = (_labels(policy, active, f) for f in (B, S, M))
    ems = f", with EMS for {m}" if medical else ""
    followup = False
    if threat is ThreatLevel.IMMINENT:
        route, rule = Route.POLICE, "R1_imminent_threat"
        followup = crisis
        tail = f", with clinician follow-up for {b}" if crisis else ""
        explanation = f"Imminent danger ({s}): police at once{tail}{ems}."
    elif crisis and threat is not ThreatLevel.NONE:
        route, rule = Route.CO_RESPONSE, "R2_behavioral_with_threat"
        explanation = (
            f"Behavioral indicators ({b}) with {threat.value} safety risk ({s}): co-response team{ems}."
        )
    elif crisis:
        route, rule = Route.CLINICIAN_ONLY, "R3_behavioral_no_threat"
        explanation = f"Behavioral indicators ({b}) with no safety risk: clinician-only team{ems}."
    elif medical and not safety:
        route, rule = Route.CLINICIAN_ONLY, "R4_medical_no_threat"
        explanation = (
            f"Medical need ({m}) with no behavioral or safety indicators: clinician-only team with EMS."
        )
    elif safety:
        route, rule = Route.POLICE, "R5_safety_no_crisis"
        explanation = f"Safety indicators ({s}) with no behavioral crisis: police{ems}."
    else:
        route, rule = Route.POLICE, "R6_nothing_fired"
        review = ", held for review as it describes no behavior" if needs_review else ""
        explanation = f"No behavioral, safety or medical indicators: police at the lowest priority{review}."
    return Outcome(
        route=route,
        threat_level=threat,
        crisis=crisis,
        ems_required=medical,
        clinician_followup=followup,
        needs_review=needs_review,
        priority=min((d.rank for d in definitions), default=4),
        rule=rule,
        explanation=explanation,
    )


_NO_NARRATIVE = LanguageReading(language="und", covered=True, readable_share=1.0)
# An unread call may be urgent: it is reviewed at least at this priority.
_UNREAD_PRIORITY = 2


def _held_for_language(outcome: Outcome, reading: LanguageReading) -> Outcome:
    """The outcome for a narrative the policy cannot read: held for review by an interpreter."""
    language = f"'{reading.language}'" if reading.language != "und" else "an unidentified language"
    basis = outcome["explanation"] if outcome["rule"] != "R6_nothing_fired" else "No call-type indicators."
    return Outcome(
        **{
            **outcome,
            "needs_review": True,
            "priority": min(outcome["priority"], _UNREAD_PRIORITY),
            "rule": LANGUAGE_NOT_COVERED_RULE,
            "explanation": (
                f"Narrative reads as {language}, which this policy does not cover "
                f"({reading.readable_share:.0%} readable): held for review by an interpreter. {basis}"
            ),
        }
    )


# A narrative read, but with less than PARTLY_READ_SHARE of it in words the policy can read, and
# at least this many words unread, is decided on what was read and held for review.
_UNREAD_WORDS = 2


def _partly_unread(reading: LanguageReading, text: str) -> bool:
    """Readable overall, yet with at least ``_UNREAD_WORDS`` words and a fifth of it unread."""
    unread_words = (1 - reading.readable_share) * len(text.split())
    return reading.readable_share < PARTLY_READ_SHARE and unread_words >= _UNREAD_WORDS


def _partly_read(outcome: Outcome, reading: LanguageReading) -> Outcome:
    """The outcome of a narrative partly in words the policy cannot read: decided, but reviewed."""
    unread = 1 - reading.readable_share
    return Outcome(
        **{
            **outcome,
            "needs_review": True,
            "explanation": (
                f"{outcome['explanation']} About {unread:.0%} of the narrative could not be read "
                "(another language or symbols): have it read before relying on this decision."
            ),
        }
    )


def _indicator(policy: Policy, hit: Hit, prepared: Prepared, original: str) -> Indicator:
    start, end = prepared.original_span(hit.start, hit.end)
    # Plain construction: measured faster than model_construct on this pydantic version.
    return Indicator(
        family=policy.definitions[hit.code].family,
        code=hit.code,
        text=original[start:end],
        span=(start, end),
        source=hit.source,
    )


def classify(
    narrative: str,
    call_type: str | None = None,
    *,
    policy: Policy | None = None,
    scoping: Scoping | None = None,
) -> TriageDecision:
    """Decide the response for a call from what the caller described and its CAD call type.

    Any ``str`` is classified without an exception. ``policy`` defaults to the shipped lexicon
    and language packs; ``scoping`` replaces the engine's own negation and time verdicts (used to
    compare scoping methods, see ``scripts/compare_context.py``).
    """
    policy = policy or default_policy()
    narrative = narrative or ""
    prepared = prepare(narrative, policy)
    descriptors = descriptor_spans(prepared.text, policy)
    # The language is read without descriptors ("Somali", "Filipino" name who someone is), on
    # the text intake would store: one text path.
    unlabelled = blank(narrative, [prepared.original_span(a, b) for a, b in descriptors])
    readable = clean_text(unlabelled).strip()
    reading = identify(readable, policy.languages, policy.known_words) if readable else _NO_NARRATIVE
    unreadable = bool(readable) and not reading.covered
    # Words of a language the policy does not cover are never read as ours: Vietnamese "de doa"
    # (threaten) is not DOA. Such a call is decided on its call type and held for review.
    text = "" if unreadable else blank(prepared.text, descriptors)
    hits, vague, scope = _narrative_hits(policy, text)
    if scoping is not None and hits:  # another method's verdicts in place of the engine's own
        spans = [(h.code, *prepared.original_span(h.start, h.end)) for h in hits]
        hits = [replace(h, removed_by=r) for h, r in zip(hits, scoping(narrative, spans), strict=True)]
    histories = _histories(text, hits)
    hits += [
        Hit(code, m.start(), m.end())
        for m in _DETERMINANT_NARRATIVE.finditer(text)
        for code in dict.fromkeys(determinant_codes(policy, m))
    ]
    hits = _with_also(policy, hits)
    active = [h for h in hits if h.removed_by is None]
    compound_hits = _with_also(policy, _compounds(policy, scope, active))
    narrative_active = active + compound_hits

    # Call-type indicators come from the CAD, not the caller: narrative negation never reaches them.
    call_type = call_type or None
    call_hits = _unique(
        _with_also(
            policy,
            (Hit(code, 0, len(call_type or ""), "call_type") for code in call_type_codes(policy, call_type)),
        )
    )
    active_all = narrative_active + call_hits
    # A past act of violence is a stated history of violence of a call about something now; a
    # call about nothing but a past event fires no current indicator (principle 4).
    if histories and active_all:
        hits += histories
        narrative_active += histories
        active_all += histories
    victim = _victim_readings(policy, active_all)
    if victim:
        hits = [replace(h, removed_by="victim") if h in victim else h for h in hits]
        narrative_active = [h for h in narrative_active if h not in victim]
        active_all = [h for h in active_all if h not in victim]

    needs_review = (bool(call_hits) and not narrative.strip()) or (
        not narrative_active and (vague or _thin(policy, text))
    )
    outcome = _decide(policy, active_all, needs_review)
    if unreadable:
        outcome = _held_for_language(outcome, reading)
    elif _partly_unread(reading, readable):
        outcome = _partly_read(outcome, reading)

    def to_indicator(hit: Hit) -> Indicator:
        if hit.source == "call_type":
            assert call_type is not None
            return Indicator(
                family=policy.definitions[hit.code].family,
                code=hit.code,
                text=call_type,
                span=(0, len(call_type)),
                source="call_type",
            )
        return _indicator(policy, hit, prepared, narrative)

    return TriageDecision(
        indicators=[to_indicator(h) for h in active_all],
        negated=[to_indicator(h) for h in hits if h.removed_by is not None],
        policy_version=policy.version,
        language=reading.language,
        readable_share=round(reading.readable_share, 3),
        **outcome,
    )
