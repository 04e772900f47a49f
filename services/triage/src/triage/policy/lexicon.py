"""Loading the lexicon file and compiling it into matchers.

Each indicator phrase becomes one branch of a single combined regular expression, longest
pattern first, so one left-to-right pass finds every indicator and the most specific phrase
wins where several start at the same word ("threatening to kill himself" over "threatening").
"""

from __future__ import annotations

import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from dispatch_shared.events import IndicatorFamily

DEFAULT_LEXICON = Path(__file__).with_name("lexicon.toml")

# Phrases match whole words: no letter or digit may touch either end.
_BEFORE = r"(?<![a-z0-9])"
_AFTER = r"(?![a-z0-9])"

SEVERITY_TAGS = ("critical", "high", "elevated")
KNOWN_TAGS = {*SEVERITY_TAGS, "acute", "violence", "weapon", "lethal_means", "historical"}


class LexiconError(ValueError):
    """The lexicon file is not valid; the message says where."""


@dataclass(frozen=True)
class IndicatorSpec:
    """What an indicator code means: its family, a readable label, tags and implied codes."""

    code: str
    family: IndicatorFamily
    label: str
    tags: frozenset[str] = frozenset()
    implies: tuple[str, ...] = ()

    @property
    def severity(self) -> str | None:
        """The safety severity tag, if any."""
        return next((tag for tag in SEVERITY_TAGS if tag in self.tags), None)


@dataclass(frozen=True)
class PhraseMatcher:
    """One compiled pattern over many phrases; ``codes[i]`` is the code of branch ``p{i}``."""

    pattern: re.Pattern[str]
    codes: tuple[str, ...]

    def find(self, text: str) -> list[tuple[int, int, str]]:
        """Every non-overlapping phrase in ``text`` as (start, end, code)."""
        codes = self.codes
        return [
            (m.start(), m.end(), codes[int(m.lastgroup[1:])])  # type: ignore[index]
            for m in self.pattern.finditer(text)
        ]


@dataclass(frozen=True)
class Policy:
    """A compiled lexicon: everything the engine needs to decide a call."""

    version: str
    source: str
    specs: dict[str, IndicatorSpec]
    narrative: PhraseMatcher
    call_type: PhraseMatcher
    cues: PhraseMatcher
    descriptors: PhraseMatcher
    vague: PhraseMatcher
    incident: PhraseMatcher
    negation_window: int
    descriptor_counts: dict[str, int] = field(default_factory=dict)


def _phrase_regex(phrase: str, where: str) -> str:
    try:
        compiled = re.compile(phrase, re.IGNORECASE)
    except re.error as exc:
        raise LexiconError(f"{where}: phrase {phrase!r} is not a valid pattern: {exc}") from None
    if compiled.groups:
        raise LexiconError(f"{where}: phrase {phrase!r} has a capturing group; use (?:...)")
    return phrase


def _spaces(pattern: str) -> str:
    # Blanked descriptors leave runs of spaces, so a space in a phrase matches any white space.
    return pattern.replace(" ?", r"\s*").replace(" *", r"\s*").replace(" ", r"\s+")


def _expand_leading_group(phrase: str) -> list[str]:
    """``(?:a|b)rest`` becomes ``arest`` and ``brest``, so each can join the prefix tree."""
    if not phrase.startswith("(?:"):
        return [phrase]
    depth, split, close = 0, [3], -1
    index = 0
    while index < len(phrase):
        char = phrase[index]
        if char == "\\":
            index += 2
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth == 0:
                close = index
                break
        elif char == "|" and depth == 1:
            split.append(index + 1)
        index += 1
    if close < 0 or phrase[close + 1 : close + 2] in ("?", "*", "+", "{"):
        return [phrase]
    bounds = [*split, close + 1]
    return [phrase[a : b - 1] + phrase[close + 1 :] for a, b in zip(bounds, bounds[1:], strict=False)]


_META = set(".^$*+?{}[]()|\\")


def _literal_prefix(phrase: str) -> tuple[str, str]:
    """Split a phrase into its literal lower-case start and the regular expression after it."""
    chars: list[str] = []
    index = 0
    while index < len(phrase):
        char = phrase[index]
        if char == "\\" and index + 1 < len(phrase) and not phrase[index + 1].isalnum():
            literal, step = phrase[index + 1], 2
        elif char not in _META:
            literal, step = char.lower(), 1
        else:
            break
        if phrase[index + step : index + step + 1] in ("?", "*", "+", "{"):
            break  # the quantifier belongs to this character: leave it to the regex part
        chars.append(literal)
        index += step
    return "".join(chars), phrase[index:]


@dataclass
class _Node:
    children: dict[str, _Node] = field(default_factory=dict)
    leaves: list[tuple[str, int]] = field(default_factory=list)

    def depth(self) -> int:
        return 1 + max((child.depth() for child in self.children.values()), default=0)


def _emit(node: _Node) -> str:
    # Longer literal continuations first, then this node's regex tails, longest first: the
    # ordered alternation then prefers the most specific phrase that matches.
    branches = [
        (r"\s+" if char == " " else re.escape(char)) + f"(?:{_emit(child)})"
        for char, child in sorted(node.children.items(), key=lambda item: -item[1].depth())
    ]
    branches += [
        f"(?P<p{index}>{_spaces(tail)})"
        for tail, index in sorted(node.leaves, key=lambda leaf: -len(leaf[0]))
    ]
    return "|".join(branches)


def _compile_phrases(entries: list[tuple[str, str]]) -> PhraseMatcher:
    """Compile (phrase, label) pairs into one pattern shaped as a prefix tree of the phrases.

    Python's regex engine tries alternatives one by one; sharing literal prefixes means that at
    each word only the phrases starting with that word's letters are tried, which is what makes
    a lexicon of hundreds of phrases fast.
    """
    labels: list[str] = []
    root = _Node()
    loose: list[str] = []
    for phrase, label in entries:
        for variant in _expand_leading_group(phrase):
            index = len(labels)
            labels.append(label)
            prefix, tail = _literal_prefix(variant)
            if not prefix:
                loose.append(f"(?P<p{index}>{_spaces(tail)})")
                continue
            node = root
            for char in prefix:
                node = node.children.setdefault(char, _Node())
            node.leaves.append((tail, index))
    body = "|".join([*sorted(loose, key=len, reverse=True), _emit(root)])
    pattern = re.compile(f"{_BEFORE}(?:{body}){_AFTER}", re.IGNORECASE)
    return PhraseMatcher(pattern, tuple(labels))


def _words(data: dict[str, Any], key: str, where: str) -> list[str]:
    value = data.get(key, [])
    if not isinstance(value, list) or not all(isinstance(item, str) and item for item in value):
        raise LexiconError(f"{where}.{key} must be a list of non-empty strings")
    return [_phrase_regex(item, f"{where}.{key}") for item in value]


def _cue_matcher(matching: dict[str, Any]) -> PhraseMatcher:
    # "not sure" is uncertainty, not negation: uncertainty cues come first where both match.
    kinds = {
        "unc": "uncertainty_cues",
        "neg": "negation_cues",
        "pastb": "past_cues_before",
        "pasta": "past_cues_after",
        "term": "scope_terminators",
    }
    entries = [(cue, kind) for kind, key in kinds.items() for cue in _words(matching, key, "matching")]
    return _compile_phrases(entries)


def _specs(data: dict[str, Any]) -> dict[str, IndicatorSpec]:
    specs: dict[str, IndicatorSpec] = {}
    for position, entry in enumerate(data.get("indicators", []), start=1):
        where = f"indicators[{position}]"
        code = entry.get("code")
        if not isinstance(code, str) or not code:
            raise LexiconError(f"{where} needs a code")
        try:
            family = IndicatorFamily(entry.get("family"))
        except ValueError:
            raise LexiconError(f"{where} ({code}): family must be B, S or M") from None
        tags = frozenset(entry.get("tags", []))
        if unknown := tags - KNOWN_TAGS:
            raise LexiconError(f"{where} ({code}): unknown tags {sorted(unknown)}")
        specs[code] = IndicatorSpec(
            code=code,
            family=family,
            label=str(entry.get("label", code.replace("_", " "))),
            tags=tags,
            implies=tuple(entry.get("implies", [])),
        )
    for spec in specs.values():
        for implied in spec.implies:
            if implied not in specs:
                raise LexiconError(f"indicator {spec.code} implies unknown code {implied!r}")
    return specs


def _phrase_entries(
    sections: list[dict[str, Any]], name: str, specs: dict[str, IndicatorSpec]
) -> list[tuple[str, str]]:
    entries: list[tuple[str, str]] = []
    for position, entry in enumerate(sections, start=1):
        where = f"{name}[{position}]"
        code = entry.get("code")
        if code not in specs:
            raise LexiconError(f"{where}: unknown indicator code {code!r}")
        entries.extend((phrase, code) for phrase in _words(entry, "phrases", where))
    return entries


def compile_lexicon(data: dict[str, Any], *, source: str) -> Policy:
    """Validate and compile parsed lexicon data; raises LexiconError naming what is wrong."""
    version = data.get("version")
    if not isinstance(version, str) or not version:
        raise LexiconError("the lexicon needs a version string")
    specs = _specs(data)
    matching = data.get("matching", {})
    context = data.get("context", {})
    descriptor_groups: dict[str, Any] = data.get("descriptors", {})
    descriptors = [
        phrase for group in descriptor_groups for phrase in _words(descriptor_groups, group, "descriptors")
    ]
    window = matching.get("negation_window", 6)
    if not isinstance(window, int) or not 1 <= window <= 20:
        raise LexiconError("matching.negation_window must be a whole number from 1 to 20")
    return Policy(
        version=version,
        source=source,
        specs=specs,
        narrative=_compile_phrases(_phrase_entries(data.get("indicators", []), "indicators", specs)),
        call_type=_compile_phrases(_phrase_entries(data.get("call_types", []), "call_types", specs)),
        cues=_cue_matcher(matching),
        descriptors=_compile_phrases([(phrase, "descriptor") for phrase in descriptors]),
        vague=_compile_phrases([(phrase, "vague") for phrase in _words(context, "vague", "context")]),
        incident=_compile_phrases(
            [(phrase, "incident") for phrase in _words(context, "incident", "context")]
        ),
        negation_window=window,
        descriptor_counts={group: len(items) for group, items in descriptor_groups.items()},
    )


def load_policy(path: Path = DEFAULT_LEXICON) -> Policy:
    """Read and compile a lexicon file."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise LexiconError(f"{path}: {exc}") from None
    return compile_lexicon(data, source=str(path))
