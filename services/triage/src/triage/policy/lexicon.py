"""Load, validate and compile the triage lexicon (a versioned JSON data file) into a ``Policy``.

The file holds every phrase, cue and mapping; this module only turns it into compiled regular
expressions. Pattern syntax (see the file's ``description``): lower-case Python regex where a
space means "one or more whitespace", ``~`` is a word stem and ``{macro}`` expands a macro.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

from dispatch_shared.events import IndicatorFamily, ThreatLevel
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from triage.policy.matcher import PhraseMatcher, compile_pattern, literal_buckets

DEFAULT_POLICY_FILE = Path(__file__).with_name("lexicon.json")
# Language packs shipped with the package, applied on top of the base lexicon in this order.
DEFAULT_LAYER_FILES: tuple[Path, ...] = (Path(__file__).with_name("lexicon.es.json"),)

_NEVER = r"(?!x)x"  # a pattern that matches nothing, for an empty list of cues
_MACRO = re.compile(r"\{([a-z_]+)\}")
_THREAT_PRIORITY = {ThreatLevel.IMMINENT: 1, ThreatLevel.HIGH: 2, ThreatLevel.ELEVATED: 3}
_FAMILY_PRIORITY = {IndicatorFamily.BEHAVIORAL: 3, IndicatorFamily.MEDICAL: 2}


class PolicyError(ValueError):
    """The policy file is missing, not valid JSON, or breaks the lexicon schema."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Rewrite(_Strict):
    """An abbreviation or misspelling and what it stands for."""

    from_: str = Field(alias="from", min_length=1)
    to: str
    case_sensitive: bool = False


class Homographs(_Strict):
    """Shorthand that is also a word of another language, and how to tell that language's runs.

    Capitalised Spanish "SI" (if, yes) is not "suicidal ideation": a shorthand listed here is not
    expanded when one of the two words on either side of it is one of ``words``, common words
    of ``language`` that are not English. Written by the language pack, which knows its words.
    """

    language: str = Field(pattern=r"^[a-z]{2}$")
    shorthand: list[str] = Field(min_length=1)
    words: list[str] = Field(min_length=1)


class IndicatorDef(_Strict):
    """What an indicator code means: its family, label, threat level and priority."""

    family: IndicatorFamily
    label: str = Field(min_length=1)
    threat: Literal[ThreatLevel.ELEVATED, ThreatLevel.HIGH, ThreatLevel.IMMINENT] | None = None
    priority: int | None = Field(default=None, ge=1, le=3)
    tags: list[str] = []
    also: list[str] = []

    @model_validator(mode="after")
    def _threat_only_for_safety(self) -> IndicatorDef:
        if (self.family is IndicatorFamily.SAFETY) != (self.threat is not None):
            raise ValueError("safety indicators, and only they, need a threat level")
        return self

    @property
    def rank(self) -> int:
        """Priority this indicator asks for (1 = most urgent)."""
        if self.priority is not None:
            return self.priority
        if self.threat is not None:
            return _THREAT_PRIORITY[self.threat]
        return _FAMILY_PRIORITY[self.family]


class PhraseGroup(_Strict):
    """Patterns tried in order; ``kind`` says whether a match is an indicator, vague or ignored."""

    kind: Literal["indicator", "vague", "ignore"] = "indicator"
    code: str | None = None
    patterns: list[str] = Field(min_length=1)

    @model_validator(mode="after")
    def _code_for_indicators(self) -> PhraseGroup:
        if (self.kind == "indicator") != (self.code is not None):
            raise ValueError("indicator phrase groups, and only they, need a code")
        return self


class Compound(_Strict):
    """Two active indicators (by tag) in one sentence (or anywhere in the call) that mean a third."""

    emit: str
    first: str
    second: str
    scope: Literal["sentence", "call"] = "sentence"
    ordered: bool = False
    between: str | None = None


class Negation(_Strict):
    window_tokens: int = Field(ge=1, le=30)
    uncertainty_cues: list[str]
    negation_cues: list[str]
    negation_exceptions_after: str
    post_negation_cues: list[str]
    # Verb forms after the phrase: "overdose was ruled out", "HI - denied".
    post_negation_verbs: list[str] = []
    # Cues that may negate every item of a comma list ("denies X, Y, and Z"); "no" and "not"
    # negate a list only when it ends in "or"/"nor" ("no weapons, threats or fighting").
    list_negation_cues: list[str] = []
    # What undoes an ingestion later in the sentence: "took out the pills but didn't swallow any".
    aborted_cues: list[str] = []
    list_continuers: list[str]
    clause_terminators: list[str]
    sentence_terminators: list[str]


class Past(_Strict):
    """Cues that put a mention in the past ("history of", "years ago").

    ``present_cues`` ("now", "is", "again") between a before-cue and the mention bring it back to
    the present: in "moved here last year, is hearing voices" the past belongs to another verb.
    """

    before_cues: list[str]
    after_cues: list[str]
    present_cues: list[str] = []


class KeywordRule(_Strict):
    """A call-type keyword rule over the normalised call type (lower case, words only)."""

    pattern: str
    unless: str | None = None
    emit: list[str] = Field(min_length=1)


class Determinants(_Strict):
    """Dispatch protocol determinant codes (MPDS style: protocol, level, number, suffix).

    ``protocols`` maps a protocol number to the codes of its determinants (``"B3"``, level and
    number) and ``"*"`` for any determinant of it; ``suffixes`` maps a protocol to what each
    suffix letter adds (MPDS Protocol 25: V violent, W weapons, B both).
    """

    protocols: dict[str, dict[str, list[str]]] = {}
    suffixes: dict[str, dict[str, list[str]]] = {}


class CallTypes(_Strict):
    codes: dict[str, list[str]]
    keywords: list[KeywordRule]
    determinants: Determinants = Determinants()
    # Qualifiers that negate what follows them inside a call type: "(NO SHOOTINGS)", "W/O INJ".
    qualifier_negations: list[str] = []


class VictimReading(_Strict):
    """Whose behavior counts: these codes are a victim's fear, not a crisis, when ``when`` fired."""

    codes: list[str] = []
    when: list[str] = []


class LexiconFile(_Strict):
    """The schema of the lexicon file."""

    version: str = Field(min_length=1, max_length=64)
    description: str = ""
    language: str = Field(default="en", pattern=r"^[a-z]{2}$")
    macros: dict[str, str]
    rewrites: list[Rewrite]
    descriptors: dict[str, list[str]]
    filler_words: list[str]
    negation: Negation
    past: Past
    indicators: dict[str, IndicatorDef]
    phrases: list[PhraseGroup]
    compounds: list[Compound]
    call_types: CallTypes
    victim: VictimReading = VictimReading()
    homographs: list[Homographs] = []

    @model_validator(mode="after")
    def _references_exist(self) -> LexiconFile:
        known = set(self.indicators)
        tags = {tag for d in self.indicators.values() for tag in d.tags}
        refs: list[str] = [c for d in self.indicators.values() for c in d.also]
        refs += [g.code for g in self.phrases if g.code is not None]
        refs += [c.emit for c in self.compounds]
        refs += [c for codes in self.call_types.codes.values() for c in codes]
        refs += [c for rule in self.call_types.keywords for c in rule.emit]
        determinants = self.call_types.determinants
        for table in (*determinants.protocols.values(), *determinants.suffixes.values()):
            refs += [c for codes in table.values() for c in codes]
        refs += self.victim.codes + self.victim.when
        missing = sorted(set(refs) - known)
        if missing:
            raise ValueError(f"unknown indicator codes: {', '.join(missing)}")
        bad_tags = sorted({t for c in self.compounds for t in (c.first, c.second)} - tags)
        if bad_tags:
            raise ValueError(f"compounds use unknown tags: {', '.join(bad_tags)}")
        return self


class NegationLayer(_Strict):
    """Cues a layer adds to the base lexicon's negation section (the window stays the base's)."""

    uncertainty_cues: list[str] = []
    negation_cues: list[str] = []
    post_negation_cues: list[str] = []
    post_negation_verbs: list[str] = []
    list_negation_cues: list[str] = []
    aborted_cues: list[str] = []
    list_continuers: list[str] = []
    clause_terminators: list[str] = []
    sentence_terminators: list[str] = []


class PastLayer(_Strict):
    before_cues: list[str] = []
    after_cues: list[str] = []
    present_cues: list[str] = []


class CallTypesLayer(_Strict):
    codes: dict[str, list[str]] = {}
    keywords: list[KeywordRule] = []
    qualifier_negations: list[str] = []


class LayerFile(_Strict):
    """A policy layer: a language pack or an agency overlay, added on top of the base lexicon.

    Every list is appended to the base's (phrases after the base's, so at one position a base
    phrase still wins a tie); ``macros``, ``indicators`` and ``call_types.codes`` add keys, and
    an agency overlay may map a call-type code the base maps already (its agency's meaning
    wins). A layer may not redefine a base indicator (what an indicator means is the policy's) nor a
    base macro (it would change what the base's patterns match).
    """

    name: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$")
    version: str = Field(min_length=1, max_length=32)
    kind: Literal["language", "agency"]
    language: str | None = Field(default=None, pattern=r"^[a-z]{2}$")
    description: str = ""
    macros: dict[str, str] = {}
    rewrites: list[Rewrite] = []
    descriptors: dict[str, list[str]] = {}
    filler_words: list[str] = []
    negation: NegationLayer = NegationLayer()
    past: PastLayer = PastLayer()
    indicators: dict[str, IndicatorDef] = {}
    phrases: list[PhraseGroup] = []
    compounds: list[Compound] = []
    call_types: CallTypesLayer = CallTypesLayer()
    homographs: list[Homographs] = []

    @model_validator(mode="after")
    def _language_packs_name_their_language(self) -> LayerFile:
        if (self.kind == "language") != (self.language is not None):
            raise ValueError("language layers, and only they, name a language")
        return self


def merge_layer(base: dict[str, Any], layer: LayerFile) -> dict[str, Any]:
    """The lexicon data of ``base`` with ``layer`` added (see ``LayerFile``); ``base`` is not changed.

    Raises ``PolicyError`` when the layer redefines an indicator or a macro the base defines.
    """
    clash = sorted(set(layer.indicators) & set(base["indicators"]))
    if clash:
        raise PolicyError(f"layer {layer.name}: redefines base indicators: {', '.join(clash)}")
    # A macro is shared by every pattern after it: a layer's own {animal} would silently change
    # what the base's patterns match, in every language.
    clash = sorted(
        name for name in set(layer.macros) & set(base["macros"]) if layer.macros[name] != base["macros"][name]
    )
    if clash:
        raise PolicyError(f"layer {layer.name}: redefines base macros: {', '.join(clash)}")
    extra = layer.model_dump(by_alias=True, exclude_defaults=False)
    merged: dict[str, Any] = json.loads(json.dumps(base))  # a deep copy of plain JSON data
    for key in ("rewrites", "filler_words", "phrases", "compounds", "homographs"):
        merged.setdefault(key, [])
        merged[key] += extra[key]
    for key in ("macros", "indicators"):
        merged[key].update(extra[key])
    for category, patterns in extra["descriptors"].items():
        merged["descriptors"].setdefault(category, []).extend(patterns)
    for section in ("negation", "past"):
        for key, items in extra[section].items():
            merged[section][key] += items
    merged["call_types"]["codes"].update(extra["call_types"]["codes"])
    merged["call_types"]["keywords"] += extra["call_types"]["keywords"]
    merged["call_types"]["qualifier_negations"] += extra["call_types"]["qualifier_negations"]
    return merged


@dataclass(frozen=True, slots=True)
class Entry:
    """One phrase group of the combined matcher."""

    kind: str
    code: str | None


@dataclass(frozen=True)
class Policy:
    """A compiled lexicon: everything the engine needs, immutable and safe to share across threads."""

    version: str
    source: str
    sha256: str
    spec: LexiconFile
    languages: frozenset[str]
    case_rewrite_re: re.Pattern[str]
    rewrite_re: re.Pattern[str]
    rewrite_to: dict[str, str]
    # Shorthand (lower case) -> words that mark the run around it as another language's.
    homograph_words: dict[str, frozenset[str]]
    descriptor_re: re.Pattern[str]
    matcher: PhraseMatcher
    entries: dict[str, Entry]
    phrase_patterns: list[tuple[str, re.Pattern[str]]]
    uncertainty_re: re.Pattern[str]
    negation_re: re.Pattern[str]
    post_negation_re: re.Pattern[str]
    post_negation_cue_re: re.Pattern[str]
    list_negation_re: re.Pattern[str]
    aborted_re: re.Pattern[str]
    qualifier_re: re.Pattern[str]
    past_before_re: re.Pattern[str]
    past_after_re: re.Pattern[str]
    present_re: re.Pattern[str]
    clause_re: re.Pattern[str]
    sentence_re: re.Pattern[str]
    continuers: frozenset[str]
    fillers: frozenset[str]
    compound_between: dict[int, re.Pattern[str]]
    call_type_rules: list[tuple[re.Pattern[str], re.Pattern[str] | None, tuple[str, ...]]]
    definitions: dict[str, IndicatorDef] = field(repr=False)
    known_words: frozenset[str] = field(default=frozenset(), repr=False)
    """The words the policy knows (``language.identify`` settles unsure readings with them)."""

    def summary(self) -> dict[str, Any]:
        """What ``GET /v1/policy`` shows: version, source and counts, never any call data."""
        per_family = {f.value: 0 for f in IndicatorFamily}
        for definition in self.definitions.values():
            per_family[definition.family.value] += 1
        return {
            "version": self.version,
            "source": self.source,
            "languages": sorted(self.languages),
            "sha256": self.sha256,
            "indicators_per_family": per_family,
            "phrase_patterns": len(self.phrase_patterns),
            "call_type_codes": dict(self.spec.call_types.codes),
            "call_type_keyword_rules": len(self.spec.call_types.keywords),
            "descriptors": {name: len(items) for name, items in self.spec.descriptors.items()},
            "rewrites": len(self.spec.rewrites),
        }


def expand(pattern: str, macros: dict[str, str]) -> str:
    """Turn lexicon syntax into a Python regex: spaces, ``~``, macros, and no capturing groups."""
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            out.append(pattern[i : i + 2])
            i += 2
            continue
        if in_class:
            in_class = ch != "]"
            out.append(ch)
        elif ch == "[":
            in_class = True
            out.append(ch)
        elif ch == " ":
            optional = pattern[i + 1 : i + 2] == "?"
            out.append(r"\s*" if optional else r"\s+")
            i += 1 if optional else 0
        elif ch == "~":
            out.append(r"\w*")
        elif ch == "(" and pattern[i + 1 : i + 2] != "?":
            out.append("(?:")
        elif ch == "{" and (m := _MACRO.match(pattern, i)) and m.group(1) in macros:
            out.append(macros[m.group(1)])
            i = m.end()
            continue
        else:
            out.append(ch)
        i += 1
    return "".join(out)


def _compile(pattern: str, where: str, flags: int = 0) -> re.Pattern[str]:
    try:
        return compile_pattern(pattern, flags)
    except re.error as exc:
        raise PolicyError(f"{where}: bad pattern {pattern!r}: {exc}") from exc


def _alternation(patterns: list[str], macros: dict[str, str], where: str) -> re.Pattern[str]:
    """One word-bounded alternation of lexicon patterns (each checked on its own first)."""
    expanded = [expand(p, macros) for p in patterns]
    for p in expanded:
        _compile(p, where)
    return _compile(r"\b(?:" + "|".join(expanded) + r")(?!\w)", where)


def _check_lower_case(pattern: str, where: str) -> None:
    # Text is lower-cased before matching, so an upper-case letter could never match.
    if re.search("[A-Z]", re.sub(r"\\.", "", pattern)):
        raise PolicyError(f"{where}: pattern {pattern!r} must be lower case")


def _homograph_words(groups: list[Homographs]) -> dict[str, frozenset[str]]:
    """For each homograph shorthand (lower case), the words that mark another language's run."""
    words: dict[str, set[str]] = {}
    for group in groups:
        for shorthand in group.shorthand:
            words.setdefault(shorthand.lower(), set()).update(w.lower() for w in group.words)
    return {shorthand: frozenset(ws) for shorthand, ws in words.items()}


def _rewrite_matchers(rewrites: list[Rewrite]) -> tuple[re.Pattern[str], re.Pattern[str], dict[str, str]]:
    """Two matchers: case-sensitive shorthand ("SI") on the original text, the rest lower-cased."""
    sensitive: list[str] = []
    lower: list[str] = []
    for rw in sorted(rewrites, key=lambda r: -len(r.from_)):
        # Every shorthand starts with a letter or digit: one \b in front keeps literal prefixes
        # first in each alternative, which the regex engine skips quickly.
        tail = r"(?!\w)" if rw.from_[-1].isalnum() else ""
        body = re.escape(rw.from_ if rw.case_sensitive else rw.from_.lower())
        (sensitive if rw.case_sensitive else lower).append(body + tail)
    table = {rw.from_.lower(): rw.to for rw in rewrites}
    return (
        _compile(r"\b(?:" + ("|".join(sensitive) or _NEVER) + ")", "rewrites"),
        _compile(r"\b(?:" + ("|".join(lower) or _NEVER) + ")", "rewrites"),
        table,
    )


# Sections of a lexicon whose text is what callers and call-takers write; the rest (descriptors,
# indicator definitions, descriptions) names people or explains the policy.
_WORD_SECTIONS = {
    "macros",
    "rewrites",
    "filler_words",
    "negation",
    "past",
    "phrases",
    "compounds",
    "homographs",
}
_WORD = re.compile(r"[a-z][a-z']+")


def _known_words(spec: LexiconFile) -> frozenset[str]:
    """The words ``spec`` knows, lower case and without accents, for ``language.identify``.

    Its filler and homograph words, its shorthand (as written and without edge punctuation:
    "w/" is "w") and what it stands for, and every run of two or more letters in its patterns
    and cues ("respira", "subj", "knife").
    """
    words = {word.lower() for word in spec.filler_words}
    words |= {word.lower() for group in spec.homographs for word in group.words}
    words |= {rewrite.from_.lower().strip("/.") for rewrite in spec.rewrites}
    words.update(
        _WORD.findall(" ".join(_strings(spec.model_dump(by_alias=True, include=_WORD_SECTIONS))).lower())
    )
    return frozenset(words)


def _strings(value: object) -> Iterable[str]:
    """Every string inside nested lists and dicts of plain JSON data."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)


def compile_lexicon(
    spec: LexiconFile, *, source: str, sha256: str, languages: frozenset[str] | None = None
) -> Policy:
    """Compile a validated lexicon; raise ``PolicyError`` on a pattern that does not compile."""
    macros: dict[str, str] = {}
    for name, body in spec.macros.items():
        macros[name] = expand(body, macros)

    descriptor_patterns = sorted((p for ps in spec.descriptors.values() for p in ps), key=len, reverse=True)
    alternatives: list[tuple[str, str]] = []
    entries: dict[str, Entry] = {}
    singles: list[tuple[str, re.Pattern[str]]] = []
    for n, group in enumerate(spec.phrases):
        where = f"phrases[{n}] ({group.code or group.kind})"
        expanded = []
        for pattern in group.patterns:
            _check_lower_case(pattern, where)
            regex = expand(pattern, macros)
            singles.append((group.code or group.kind, _compile(r"\b(?:" + regex + r")(?!\w)", where)))
            expanded.append(regex)
        alternatives += [(f"g{n}", regex) for regex in expanded]
        entries[f"g{n}"] = Entry(kind=group.kind, code=group.code)
    for p in descriptor_patterns:
        _check_lower_case(p, "descriptors")

    neg = spec.negation
    exceptions = expand(neg.negation_exceptions_after, macros)
    negation_cues = [
        f"(?:{expand(c, macros)})(?! {exceptions})".replace(" ", r"\s+") for c in neg.negation_cues
    ]
    case_rewrite_re, rewrite_re, rewrite_to = _rewrite_matchers(spec.rewrites)
    call_rules = [
        (
            _compile(rule.pattern, "call_types.keywords"),
            _compile(rule.unless, "call_types.keywords") if rule.unless else None,
            tuple(rule.emit),
        )
        for rule in spec.call_types.keywords
    ]
    return Policy(
        version=spec.version,
        source=source,
        sha256=sha256,
        spec=spec,
        languages=languages or frozenset({spec.language}),
        case_rewrite_re=case_rewrite_re,
        rewrite_re=rewrite_re,
        rewrite_to=rewrite_to,
        homograph_words=_homograph_words(spec.homographs),
        descriptor_re=_compile(
            r"\b(?:" + literal_buckets([expand(p, macros) for p in descriptor_patterns]) + r")(?!\w)",
            "descriptors",
        ),
        matcher=PhraseMatcher(alternatives),
        entries=entries,
        phrase_patterns=singles,
        uncertainty_re=_alternation(neg.uncertainty_cues, macros, "negation.uncertainty_cues"),
        negation_re=_compile(r"\b(?:" + "|".join(negation_cues) + r")(?!\w)", "negation.negation_cues"),
        post_negation_re=_post_negation(neg, macros),
        list_negation_re=_alternation(
            neg.list_negation_cues or [_NEVER], macros, "negation.list_negation_cues"
        ),
        aborted_re=_alternation(neg.aborted_cues or [_NEVER], macros, "negation.aborted_cues"),
        qualifier_re=_compile(
            r"\b(?:" + "|".join(spec.call_types.qualifier_negations or [_NEVER]) + r")",
            "call_types.qualifier_negations",
        ),
        post_negation_cue_re=_alternation(
            neg.post_negation_cues + neg.post_negation_verbs, macros, "negation.post_negation_cues"
        ),
        past_before_re=_alternation(spec.past.before_cues, macros, "past.before_cues"),
        past_after_re=_alternation(spec.past.after_cues, macros, "past.after_cues"),
        present_re=_alternation(spec.past.present_cues or [_NEVER], macros, "past.present_cues"),
        clause_re=_compile(_terminators(neg.clause_terminators, macros), "negation.clause_terminators"),
        sentence_re=_compile(_terminators(neg.sentence_terminators, macros), "negation.sentence_terminators"),
        continuers=frozenset(neg.list_continuers),
        fillers=frozenset(spec.filler_words),
        compound_between={
            n: _compile(c.between, f"compounds[{n}]") for n, c in enumerate(spec.compounds) if c.between
        },
        call_type_rules=call_rules,
        definitions=dict(spec.indicators),
        known_words=_known_words(spec),
    )


def _post_negation(neg: Negation, macros: dict[str, str]) -> re.Pattern[str]:
    """Negation that follows the phrase, matched from the phrase's end (``re.match``).

    Either a label and its value ("SI: denies", "Firearms in home: no", "weapons - none found",
    "suicidal ideation - negative") or a verb ("overdose was ruled out"), with at most three
    words of the label between the phrase and the cue.
    """
    label = r"(?:\s+[a-z0-9'/-]+){0,3}?"
    cues = "|".join(expand(c, macros) for c in neg.post_negation_cues)
    value = rf"(?:{label}\s*(?:[:=?]|\s-+)\s*|\s*)(?:{cues})(?!\w)(?=\s*(?:$|[.,;:!?()\n]))"
    if not neg.post_negation_verbs:
        return _compile(value, "negation.post_negation_cues")
    verbs = "|".join(expand(v, macros).replace(" ", r"\s+") for v in neg.post_negation_verbs)
    return _compile(rf"{value}|{label}\s+(?:{verbs})(?!\w)", "negation.post_negation_verbs")


def _terminators(items: list[str], macros: dict[str, str]) -> str:
    # Word terminators ("but") share one word-bounded group; punctuation ones need no boundary.
    words = [expand(t, macros) for t in items if t[:1].isalpha()]
    marks = [expand(t, macros) for t in items if not t[:1].isalpha()]
    return "|".join(marks + ([r"\b(?:" + "|".join(words) + r")\b"] if words else []))


def _read_json(path: Path) -> tuple[bytes, Any]:
    try:
        raw = path.read_bytes()
        return raw, json.loads(raw)
    except (OSError, ValueError) as exc:
        raise PolicyError(f"cannot read policy file {path}: {exc}") from exc


def load_policy(
    path: Path | str = DEFAULT_POLICY_FILE, layers: Sequence[Path | str] = DEFAULT_LAYER_FILES
) -> Policy:
    """Read, validate, layer and compile a policy; raise ``PolicyError`` if anything is wrong.

    ``path`` is the base lexicon; ``layers`` are language packs and agency overlays applied in
    order. The policy's version names every part: ``2025.2.0+es.2025.1.0+seattle.3``.
    """
    path = Path(path)
    raw, data = _read_json(path)
    try:
        base = LexiconFile.model_validate(data)
    except ValidationError as exc:
        raise PolicyError(f"invalid policy file {path}: {exc}") from exc
    digest = hashlib.sha256(raw)
    version, sources, languages = base.version, [str(path)], {base.language}
    merged: dict[str, Any] = base.model_dump(by_alias=True)
    for layer_path in map(Path, layers):
        layer_raw, layer_data = _read_json(layer_path)
        try:
            layer = LayerFile.model_validate(layer_data)
        except ValidationError as exc:
            raise PolicyError(f"invalid policy layer {layer_path}: {exc}") from exc
        merged = merge_layer(merged, layer)
        digest.update(layer_raw)
        version += f"+{layer.name}.{layer.version}"
        sources.append(str(layer_path))
        if layer.language:
            languages.add(layer.language)
    try:
        spec = LexiconFile.model_validate({**merged, "version": base.version})
    except ValidationError as exc:
        raise PolicyError(f"policy layers {', '.join(sources[1:])} do not fit {path}: {exc}") from exc
    policy = compile_lexicon(
        spec, source=", ".join(sources), sha256=digest.hexdigest(), languages=frozenset(languages)
    )
    return replace(policy, version=version)
