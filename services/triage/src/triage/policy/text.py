"""Text preparation for matching: one lower-case normal form, with a map back to the caller's characters.

Spans found in the prepared text must point into the narrative the caller gave, so every step
that can change lengths (Unicode normalisation, abbreviation expansion, lower-casing) records
where each prepared character came from. Blanking descriptors keeps lengths, so needs no map.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from functools import lru_cache

from dispatch_shared.text import control_replacement

from triage.policy.lexicon import Policy

# Apostrophes, quotes and dashes callers and CAD systems use. Controls, line breaks and invisible
# format characters fold as intake's clean_text holds them (one shared table), so a stored
# narrative and the caller's raw text prepare alike.
_FOLD = {
    "\u2019": "'",
    "\u2018": "'",
    "\u02bc": "'",
    "`": "'",
    "\u00b4": "'",
    "\u201c": '"',
    "\u201d": '"',
    "\u2013": "-",
    "\u2014": " - ",
    "\u2212": "-",
    "\u2010": "-",
    "\u2011": "-",
}
_ASCII = str.maketrans(
    {i: control_replacement(chr(i)) for i in [*range(0, 9), *range(11, 32), 127]} | {9: " ", 96: "'"}
)


@dataclass(frozen=True, slots=True)
class Prepared:
    """``text`` ready for matching; ``starts``/``ends`` map each character back (None: identity)."""

    text: str
    starts: list[int] | None
    ends: list[int] | None

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The ``[start, end)`` of the original string that prepared ``[start, end)`` came from."""
        if self.starts is None or self.ends is None:
            return start, end
        return self.starts[start], self.ends[end - 1]


@lru_cache(maxsize=8192)
def _fold_char(char: str) -> str:
    if char in _FOLD:
        return _FOLD[char]
    if char == "\n":
        return char
    shared = control_replacement(char)  # "ki\u200bll" reads "kill"; "kill\x85himself" two words
    if shared is not None:
        return shared
    if unicodedata.category(char)[0] in "CZ":  # other spaces, private use, unassigned: a space
        return " "
    decomposed = unicodedata.normalize("NFKD", char)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))  # drop accents
    return unicodedata.normalize("NFKC", bare).translate(_ASCII)


def _unicode_fold(raw: str) -> tuple[str, list[int], list[int]]:
    pieces: list[str] = []
    starts: list[int] = []
    ends: list[int] = []
    for index, char in enumerate(raw):
        folded = _fold_char(char)
        pieces.append(folded)
        starts.extend([index] * len(folded))
        ends.extend([index + 1] * len(folded))
    return "".join(pieces), starts, ends


_SENTENCE_END = re.compile(r"[.;!?]")


def _in_other_language(text: str, match: re.Match[str], homographs: dict[str, frozenset[str]]) -> bool:
    """True when ``match`` is a homograph shorthand ("SI") among words of the language it is a word of.

    Looks at the two whitespace-separated words on either side, within the sentence.
    """
    words = homographs.get(match.group().lower())
    if words is None:
        return False
    a, b = match.span()
    before = _SENTENCE_END.split(text[max(0, a - 60) : a])[-1].split()[-2:]
    after = _SENTENCE_END.split(text[b : b + 60])[0].split()[:2]
    return any(token.strip(",:()\"'-").lower() in words for token in before + after)


# Accented letters of the covered languages' own spelling (Spanish), lower case: a misspelling
# written with them ("desmalló") is still fixed. Any other non-ASCII letter marks a word of another
# language that folding made look like shorthand: Vietnamese "dọa" is not DOA.
_COVERED_ACCENTED = frozenset("áéíóúüñ")


def _foreign_letters(original: str) -> bool:
    """True when ``original`` holds a non-ASCII letter that is not one of ``_COVERED_ACCENTED``."""
    return any(
        not char.isascii() and char.isalpha() and char.lower() not in _COVERED_ACCENTED for char in original
    )


def _rewrite(
    prepared: Prepared,
    pattern: re.Pattern[str],
    table: dict[str, str],
    raw: str,
    homographs: dict[str, frozenset[str]] | None = None,
) -> Prepared:
    """Expand call-taker shorthand and fix common misspellings, keeping the offset map.

    ``raw`` is the caller's text ``prepared`` maps back to. A match that folding made out of
    another language's letters (see ``_foreign_letters``) stays as written, and so does a shorthand
    in ``homographs`` where its neighbours show it is a word of another language (Spanish "SI").
    """
    text = prepared.text
    matches = list(pattern.finditer(text))
    if homographs:
        matches = [m for m in matches if not _in_other_language(text, m, homographs)]
    if prepared.starts is not None and prepared.ends is not None:
        starts, ends = prepared.starts, prepared.ends
        matches = [m for m in matches if not _foreign_letters(raw[starts[m.start()] : ends[m.end() - 1]])]
    if not matches:
        return prepared
    starts = prepared.starts if prepared.starts is not None else list(range(len(text)))
    ends = prepared.ends if prepared.ends is not None else list(range(1, len(text) + 1))
    out: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    position = 0
    for match in matches:
        a, b = match.span()
        out.append(text[position:a])
        new_starts += starts[position:a]
        new_ends += ends[position:a]
        replacement = table[match.group().lower()]
        out.append(replacement)
        new_starts += [starts[a]] * len(replacement)
        new_ends += [ends[b - 1]] * len(replacement)
        position = b
    out.append(text[position:])
    new_starts += starts[position:]
    new_ends += ends[position:]
    return Prepared("".join(out), new_starts, new_ends)


def _lower(prepared: Prepared) -> Prepared:
    lowered = prepared.text.lower()
    if len(lowered) == len(prepared.text):  # lower() never shrinks, so equal length is 1:1
        return Prepared(lowered, prepared.starts, prepared.ends)
    starts = prepared.starts or list(range(len(prepared.text)))
    ends = prepared.ends or list(range(1, len(prepared.text) + 1))
    pieces: list[str] = []
    new_starts: list[int] = []
    new_ends: list[int] = []
    for index, char in enumerate(prepared.text):
        low = char.lower()
        pieces.append(low)
        new_starts += [starts[index]] * len(low)
        new_ends += [ends[index]] * len(low)
    return Prepared("".join(pieces), new_starts, new_ends)


def prepare(raw: str, policy: Policy) -> Prepared:
    """Normalise (NFKC, no accents, folded quotes, no controls), expand shorthand, lower-case."""
    # A CRLF is one line break, as intake stores it (``clean_text``), not two: its CR becomes a
    # space, so the text keeps its length and every span still points into the caller's text.
    folded = raw.replace("\r\n", " \n") if "\r" in raw else raw
    if folded.isascii():
        prepared = Prepared(folded.translate(_ASCII), None, None)
    else:
        prepared = Prepared(*_unicode_fold(folded))
    # Case-sensitive shorthand ("SI", "HI") first, while the caller's capitals are still there.
    prepared = _lower(
        _rewrite(prepared, policy.case_rewrite_re, policy.rewrite_to, raw, policy.homograph_words)
    )
    return _rewrite(prepared, policy.rewrite_re, policy.rewrite_to, raw)


def descriptor_spans(text: str, policy: Policy) -> list[tuple[int, int]]:
    """``[start, end)`` of each protected descriptor (who someone is) in prepared ``text``, in order.

    A descriptor set off by commas ("his mother, with a hearing aid, with a bat") takes its commas
    with it, and one in a relative clause its opening ("who is an"), so the sentence reads as if
    it had never been there.
    """
    runs: list[list[int]] = []  # descriptors side by side ("wht female") make one run
    for match in policy.descriptor_re.finditer(text):
        start, end = match.span()
        if runs and not text[runs[-1][1] : start].strip():
            runs[-1][1] = end
        else:
            runs.append([start, end])
    spans: list[tuple[int, int]] = []
    for start, end in runs:
        after = _skip_spaces(text, end)
        opener = _APPOSITIVE_OPENER.search(text, max(0, start - _OPENER_REACH), start)
        if opener and opener.group("comma") and text[after : after + 1] == ",":
            start, end = opener.start(), after + 1  # the aside and both its commas
        elif opener and opener.group("relative"):
            start = opener.start("relative")  # "who is an" goes with what it introduces
        spans.append((start, end))
    return spans


# What sets a descriptor off as an aside: a comma and/or a relative clause's opening
# ("his mother, with a hearing aid,", "his mother who is an immigrant").
_RELATIVE_VERB = r"(?:'s|\s+(?:is|was|are|were|has|had|has been|is also|uses|lives))"
_APPOSITIVE_OPENER = re.compile(
    rf"(?P<comma>,\s*)?(?P<relative>(?<!\w)(?:who|that|which){_RELATIVE_VERB}?\s+)?"
    r"(?:(?:with|in|on)\s+)?(?:(?:a|an|the)\s+)?$"
)
_OPENER_REACH = 24  # characters before a descriptor where its opener may stand


def _skip_spaces(text: str, position: int) -> int:
    """The first position at or after ``position`` that holds no white space."""
    while position < len(text) and text[position].isspace():
        position += 1
    return position


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each ``[start, end)`` in ``spans`` (in order) turned into as many spaces."""
    pieces: list[str] = []
    position = 0
    for start, end in spans:
        start = max(start, position)  # two spans may share the characters one rewrite expanded
        pieces += [text[position:start], " " * (end - start)]
        position = max(position, end)
    pieces.append(text[position:])
    return "".join(pieces)


def neutralise(text: str, policy: Policy) -> str:
    """Blank protected descriptors (who someone is) with spaces, so they can never count."""
    return blank(text, descriptor_spans(text, policy))
