"""A phrase matcher that behaves like one big alternation, but only tries plausible phrases.

Python's regex engine tries the alternatives of ``a|b|c...`` one after another at every word
boundary, which is slow with hundreds of phrases. Here each phrase is filed under the first two
characters it can start with (read off the parsed regex), and at each word boundary only the
phrases filed under the next two characters run, as one compiled alternation in lexicon order.
The result is the same leftmost, first-listed-wins, non-overlapping matches as the alternation.
"""

from __future__ import annotations

import functools
import importlib
import re
from typing import Any

_sre: Any = importlib.import_module("re._parser")
_OPS: Any = importlib.import_module("re._constants")
_KEY = 3  # characters of look-ahead used to pick candidate phrases
_WILD = "\0"  # a prefix ending here may continue with anything
_MAX_HEADS = 4096
_MAX_RANGE = 128
# Phrases start at a word boundary followed by a word character (or "'ll", ".38").
_BOUNDARY = re.compile(r"\b(?=[\w'.])")


@functools.lru_cache(maxsize=16384)
def compile_pattern(pattern: str, flags: int = 0) -> re.Pattern[str]:
    """``re.compile`` with a process-wide memo for a policy's few thousand patterns.

    ``re`` keeps only its last 512 patterns, so every load of the same policy (a reload, each
    test's fixture) would parse them all again: about 1.4 s a load. Raises ``re.error``.
    """
    return re.compile(pattern, flags)


def _in_chars(items: list[tuple[Any, Any]]) -> set[str] | None:
    chars: set[str] = set()
    for op, value in items:
        if op is _OPS.LITERAL:
            chars.add(chr(value))
        elif op is _OPS.RANGE and value[1] - value[0] <= _MAX_RANGE:
            chars.update(chr(c) for c in range(value[0], value[1] + 1))
        else:  # categories (\w, \s), negated sets, wide ranges: anything
            return None
    return chars


def _is_open(head: str) -> bool:
    return len(head) < _KEY and not head.endswith(_WILD)


def _extend(items: Any, heads: set[str]) -> set[str]:
    """Extend each open prefix in ``heads`` by what the parsed sequence ``items`` can match."""
    for op, value in items:
        open_heads = {h for h in heads if _is_open(h)}
        if not open_heads:
            return heads
        done = heads - open_heads
        if op in (_OPS.AT, _OPS.ASSERT, _OPS.ASSERT_NOT):
            continue
        if op is _OPS.LITERAL:
            grown = {h + chr(value) for h in open_heads}
        elif op is _OPS.IN:
            chars = _in_chars(value)
            grown = (
                {h + _WILD for h in open_heads}
                if chars is None
                else {h + c for h in open_heads for c in chars}
            )
        elif op is _OPS.SUBPATTERN:
            grown = _extend(value[-1], open_heads)
        elif op is _OPS.BRANCH:
            grown = set().union(*(_extend(alternative, open_heads) for alternative in value[1]))
        elif op in (_OPS.MAX_REPEAT, _OPS.MIN_REPEAT, _OPS.POSSESSIVE_REPEAT):
            grown = _repeat(value, open_heads)
        else:  # ANY, categories, back-references: anything may follow
            grown = {h + _WILD for h in open_heads}
        heads = done | grown
        if len(heads) > _MAX_HEADS:
            return {_WILD}
    return heads


def _repeat(value: Any, heads: set[str]) -> set[str]:
    low, high, sub = value
    result: set[str] = set()
    current = heads
    for count in range(_KEY + 2):
        if count >= low:
            result |= current
        if count == high:
            return result
        grown = {h for h in current if not _is_open(h)} | _extend(sub, {h for h in current if _is_open(h)})
        if grown == current:
            break
        current = grown
    return result | current


def first_keys(regex: str) -> set[str]:
    """``_KEY``-character prefixes ``regex`` can start with; a shorter key ends in a wildcard."""
    heads = _extend(_sre.parse(regex), {""})
    return {h[:-1] + _WILD if h.endswith(_WILD) else (h if len(h) == _KEY else h + _WILD) for h in heads}


def literal_buckets(patterns: list[str]) -> str:
    """An alternation grouped by a literal first letter (``a(?:frican|sian)|b(?:lack)``).

    For word lists such as descriptors: the regex engine skips a group on its first letter,
    instead of trying every word at every position. Patterns that do not start with a plain
    letter go first, so a longer pattern like ``(?:dark|light)-skinned`` still wins.
    """
    other: list[str] = []
    buckets: dict[str, list[str]] = {}
    for pattern in patterns:
        head, rest = pattern[:1], pattern[1:]
        if head.isalnum() and rest[:1] not in ("?", "*", "+", "{"):
            buckets.setdefault(head, []).append(rest)
        else:
            other.append(pattern)
    grouped = [f"{re.escape(head)}(?:{'|'.join(rests)})" for head, rests in sorted(buckets.items())]
    return "|".join(other + grouped)


class PhraseMatcher:
    """Leftmost, non-overlapping matches of named phrase patterns; the first listed wins a tie."""

    def __init__(self, alternatives: list[tuple[str, str]]) -> None:
        exact: dict[str, list[int]] = {}
        wild: dict[str, list[int]] = {}  # prefix shorter than _KEY, anything may follow
        for index, (_name, regex) in enumerate(alternatives):
            for key in first_keys(regex):
                table = wild if key.endswith(_WILD) else exact
                table.setdefault(key.rstrip(_WILD), []).append(index)
        self._alternatives = alternatives

        def with_shorter(prefix: str) -> list[int]:
            return [i for n in range(len(prefix) + 1) for i in wild.get(prefix[:n], [])]

        # Each bucket's alternation is compiled the first time text reaches it (``_bucket``):
        # a policy has about 900 buckets and compiling all of them takes seconds, while a
        # batch of a few calls meets only a few dozen. Every pattern was compiled on its own
        # when the lexicon was, so a bucket cannot fail to compile later.
        self._exact_source = {
            key: self._source(members + with_shorter(key[:-1])) for key, members in exact.items()
        }
        self._wild_source = {prefix: self._source(with_shorter(prefix)) for prefix in wild}
        self._exact: dict[str, re.Pattern[str]] = {}
        self._wild: dict[str, re.Pattern[str]] = {}

    @staticmethod
    def _bucket(
        key: str, sources: dict[str, str], compiled: dict[str, re.Pattern[str]]
    ) -> re.Pattern[str] | None:
        """The compiled alternation filed under ``key``, or None when no phrase is."""
        pattern = compiled.get(key)
        if pattern is None and key in sources:
            pattern = compiled[key] = compile_pattern(sources[key])
        return pattern

    def _source(self, members: list[int]) -> str:
        parts: list[str] = []
        last = None
        for index in sorted(set(members)):
            name, regex = self._alternatives[index]
            if name == last:
                parts[-1] = parts[-1][:-1] + "|" + regex + ")"
            else:
                parts.append(f"(?P<{name}>{regex})")
            last = name
        return "(?:" + "|".join(parts) + r")(?!\w)"

    def _fallback(self, text: str, start: int) -> re.Pattern[str] | None:
        """Phrases filed under a shorter, wildcard prefix of the text at ``start``."""
        for length in range(_KEY - 1, -1, -1):
            pattern = self._bucket(text[start : start + length], self._wild_source, self._wild)
            if pattern is not None:
                return pattern
        return None

    def find(self, text: str) -> list[re.Match[str]]:
        """Matches in order; ``match.lastgroup`` names the phrase group that matched."""
        found: list[re.Match[str]] = []
        resume = 0
        for boundary in _BOUNDARY.finditer(text):
            start = boundary.start()
            if start < resume:
                continue
            pattern = self._bucket(text[start : start + _KEY], self._exact_source, self._exact)
            if pattern is None:
                pattern = self._fallback(text, start)
            if pattern is None:
                continue
            match = pattern.match(text, start)
            if match:
                found.append(match)
                resume = match.end()
        return found
