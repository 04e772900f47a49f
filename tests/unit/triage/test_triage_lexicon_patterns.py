"""No lexicon pattern is dead: every phrase, descriptor and cue can match text it was written for.

Phrases, descriptors and cues are matched with ``(?!\\w)`` after them (no letter may follow a
match), and a space in a pattern stands for one or more white-space characters. So a pattern
ending in a space ("no ha dormido en ") needs white space and then no letter: it matches only
before punctuation, never in "no ha dormido en tres dias". The same holds for an alternative or
an optional part that ends in a space, and for a look-ahead at the end that needs a letter. A
phrase that must start with white space never matches either: the matcher tries phrases only
where a word starts. This test reads the parsed regular expression of every such pattern in the
base lexicon and in each language pack, and fails on any that has one of these dead ends.
"""

from __future__ import annotations

import importlib
import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from triage.policy.lexicon import DEFAULT_LAYER_FILES, DEFAULT_POLICY_FILE, expand
from triage.policy.matcher import PhraseMatcher

_sre: Any = importlib.import_module("re._parser")
_OPS: Any = importlib.import_module("re._constants")

LEXICON_FILES = (DEFAULT_POLICY_FILE, *DEFAULT_LAYER_FILES)
# Sections read with "(?!\w)" after each pattern; call-type rules are searched without it.
CUE_SECTIONS = {
    "negation": (
        "uncertainty_cues",
        "negation_cues",
        "post_negation_cues",
        "post_negation_verbs",
        "list_negation_cues",
        "aborted_cues",
    ),
    "past": ("before_cues", "after_cues", "present_cues"),
}

SPACE, WORD, OTHER, EMPTY = "space", "word", "other", "empty"
NEEDS_WORD = "needs a letter"  # a look-ahead whose first character must be a letter or digit
_WORD_CATEGORIES = ("CATEGORY_WORD", "CATEGORY_DIGIT")


def _char_kind(code: int) -> str:
    char = chr(code)
    if char.isspace():
        return SPACE
    return WORD if char.isalnum() or char == "_" else OTHER


def _set_kind(items: list[tuple[Any, Any]]) -> str:
    """SPACE or WORD when every character of a ``[...]`` set is one, else OTHER."""
    kinds: set[str] = set()
    for op, value in items:
        if op is _OPS.LITERAL:
            kinds.add(_char_kind(value))
        elif op is _OPS.RANGE:
            kinds.update(_char_kind(code) for code in (value[0], value[1]))
        elif op is _OPS.CATEGORY and str(value) == "CATEGORY_SPACE":
            kinds.add(SPACE)
        elif op is _OPS.CATEGORY and str(value) in _WORD_CATEGORIES:
            kinds.add(WORD)
        else:  # a negated set, another category: anything
            return OTHER
    return kinds.pop() if len(kinds) == 1 else OTHER


def _only_space(items: Any) -> bool:
    """Is the sequence one white-space character (an optional space, " ?", is harmless)?"""
    if len(items) != 1:
        return False
    op, value = items[0]
    if op is _OPS.LITERAL:
        return _char_kind(value) == SPACE
    return op is _OPS.IN and _set_kind(value) == SPACE


class _Checker:
    """Kinds of the first or last character a parsed pattern can match, and its dead ends."""

    def __init__(self) -> None:
        self.problems: list[str] = []

    def heads(self, items: Any) -> set[str]:
        """Kinds of the first character of the sequence (EMPTY: it can match nothing)."""
        kinds: set[str] = set()
        for item in items:
            item_kinds = self._item(item, self.heads)
            kinds |= item_kinds - {EMPTY, NEEDS_WORD}
            if EMPTY not in item_kinds:
                return kinds
        return kinds | {EMPTY}

    def tails(self, items: Any) -> set[str]:
        """Kinds of the last character of the sequence, noting dead ends in ``problems``."""
        kinds: set[str] = set()
        for item in reversed(list(items)):
            item_kinds = self._item(item, self.tails)
            kinds |= item_kinds - {EMPTY}
            if EMPTY not in item_kinds:
                return kinds
        return kinds | {EMPTY}

    def _dead(self, kinds: set[str]) -> bool:
        return not kinds & {WORD, OTHER, EMPTY}

    def _item(self, item: tuple[Any, Any], walk: Callable[[Any], set[str]]) -> set[str]:
        """Kinds of one parsed item's first or last character (``walk``: ``heads`` or ``tails``)."""
        op, value = item
        at_tail = walk == self.tails
        if op is _OPS.LITERAL:
            return {_char_kind(value)}
        if op is _OPS.IN:
            return {_set_kind(value)}
        if op is _OPS.SUBPATTERN:
            return walk(value[-1])
        if op is _OPS.BRANCH:
            kinds: set[str] = set()
            for alternative in value[1]:
                alternative_kinds = walk(alternative)
                if at_tail and self._dead(alternative_kinds):
                    self.problems.append(f"an alternative ends in {' or '.join(sorted(alternative_kinds))}")
                kinds |= alternative_kinds
            return kinds
        if op in (_OPS.MAX_REPEAT, _OPS.MIN_REPEAT, _OPS.POSSESSIVE_REPEAT):
            low, _high, body = value
            if at_tail and _only_space(body):
                return {SPACE, EMPTY} if low == 0 else {SPACE}
            kinds = walk(body)
            if at_tail and low == 0 and self._dead(kinds):
                self.problems.append(f"an optional part ends in {' or '.join(sorted(kinds))}")
            return kinds | ({EMPTY} if low == 0 else set())
        if op is _OPS.ASSERT:
            direction, body = value
            if direction == 1 and at_tail and self.heads(body) <= {WORD}:
                return {NEEDS_WORD}
            return {EMPTY}
        if op in (_OPS.AT, _OPS.ASSERT_NOT):
            return {EMPTY}
        return {OTHER}  # any character, a negated literal, a back-reference


def dead_ends(regex: str, *, phrase: bool = True) -> list[str]:
    """Why ``regex`` (expanded lexicon syntax) can never match where the policy reads it; [] if it can.

    ``phrase``: the matcher also needs the match to start where a word starts.
    """
    parsed = _sre.parse(regex)
    checker = _Checker()
    tails = checker.tails(parsed)
    problems = list(dict.fromkeys(checker.problems))
    if not tails & {WORD, OTHER}:
        problems.insert(0, f"every match ends in {' or '.join(sorted(tails - {EMPTY}))}")
    if phrase and checker.heads(parsed) <= {SPACE, EMPTY}:
        problems.append("every match starts with white space")
    return problems


def _macros() -> dict[str, str]:
    """Every macro of the base lexicon and the layers, expanded as the policy expands them."""
    macros: dict[str, str] = {}
    for path in LEXICON_FILES:
        for name, body in json.loads(path.read_text(encoding="utf-8")).get("macros", {}).items():
            macros[name] = expand(body, macros)
    return macros


def _patterns(path: Path) -> Iterator[tuple[str, str, bool]]:
    """(where, pattern, is a phrase) for every pattern of a lexicon file read with "(?!\\w)"."""
    data = json.loads(path.read_text(encoding="utf-8"))
    for n, group in enumerate(data.get("phrases", [])):
        for pattern in group["patterns"]:
            yield f"phrases[{n}] ({group.get('code') or group.get('kind')})", pattern, True
    for category, patterns in data.get("descriptors", {}).items():
        for pattern in patterns:
            yield f"descriptors.{category}", pattern, True
    for section, keys in CUE_SECTIONS.items():
        for key in keys:
            for pattern in data.get(section, {}).get(key, []):
                yield f"{section}.{key}", pattern, False


@pytest.mark.parametrize("path", LEXICON_FILES, ids=[p.name for p in LEXICON_FILES])
def test_no_lexicon_pattern_is_dead(path: Path) -> None:
    macros = _macros()
    dead = [
        f"{where}: {pattern!r}: {'; '.join(problems)}"
        for where, pattern, phrase in _patterns(path)
        if (problems := dead_ends(expand(pattern, macros), phrase=phrase))
    ]
    assert dead == [], "\n".join(dead)


@pytest.mark.parametrize(
    ("dead", "fixed", "text"),
    [
        ("no ha dormido (?:en|desde) ", "no ha dormido (?:en|desde)", "no ha dormido en tres dias"),
        ("(?:dejo de|no ha) dormir|no duerme ", "(?:dejo de|no ha) dormir|no duerme", "no duerme nada"),
        ("gritando(?: a la)?(?: pared )?", "gritando(?: a la)?(?: pared)?", "gritando a la pared sola"),
        ("sigue(?=[a-z])", "sigue(?= [a-z])", "sigue gritando"),
        (" navaja", "navaja", "trae una navaja"),
    ],
)
def test_a_dead_pattern_is_found_and_the_matcher_agrees(dead: str, fixed: str, text: str) -> None:
    assert dead_ends(expand(dead, {})) != []
    assert dead_ends(expand(fixed, {})) == []
    found = [m.group() for m in PhraseMatcher([("g0", expand(dead, {}))]).find(text)]
    wanted = [m.group() for m in PhraseMatcher([("g0", expand(fixed, {}))]).find(text)]
    assert wanted != [] and found != wanted


@pytest.mark.parametrize(
    "pattern",
    [
        "pit ?bulls?",
        "no ha dormido (?:en|desde) (?:[a-z0-9]+ )?dias",
        "indias?(?= (?:que|de|con))",
        "(?:se )?(?:pego|golpeo) en la cabeza",
        "c/",
        "amenaz~(?! con (?:[a-z]+(?:se|me))(?!\\w))",
        "(?<!se[ ])(?:me|te) va",
    ],
)
def test_a_live_pattern_passes(pattern: str) -> None:
    assert dead_ends(expand(pattern, {})) == []
