"""Text hygiene for what callers and CAD systems send: one Unicode form, no control characters.

One definition of which characters separate words and which are invisible serves every path:
intake stores narratives through ``clean_text`` and the triage engine's own text preparation
folds the same characters the same way (``control_replacement``), so a call is decided alike
whether it arrives over the bus or through a preview.
"""

from __future__ import annotations

import re
import unicodedata
from functools import lru_cache
from typing import Annotated

from pydantic import AfterValidator

# Line, page and record breaks (what str.splitlines splits on, besides "\n" itself).
LINE_BREAKS = frozenset("\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029")
# Anything that is not printable ASCII, tab or newline may need a look.
_CANDIDATE = re.compile(r"[^\t\n\x20-\x7e]")
# After JSON decoding, a surrogate code point is always half of a pair that never formed.
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


def find_lone_surrogate(value: str) -> int | None:
    """Index of the first lone UTF-16 surrogate (U+D800..U+DFFF) in ``value``, or None.

    JSON can spell one (``"\\ud800"``) and Python's parser accepts it, but it is half a character:
    no UTF-8 text, database column or JSON answer can hold it.
    """
    found = _LONE_SURROGATE.search(value)
    return found.start() if found else None


def whole_characters(value: str) -> str:
    """``value`` unchanged; ValueError (naming the position, not the text) if it has a lone surrogate.

    Refused rather than dropped or replaced, so nothing a caller sent is silently altered.
    """
    position = find_lone_surrogate(value)
    if position is not None:
        raise ValueError(
            f"text should be valid Unicode; it holds a lone surrogate "
            f"\\u{ord(value[position]):04x} at character {position}"
        )
    return value


@lru_cache(maxsize=4096)
def control_replacement(char: str) -> str | None:
    """What clean text holds instead of one character, or None when the character stays.

    ``""`` for a format character (Unicode category Cf: zero-width spaces and joiners, bidi
    marks and overrides, soft hyphen, byte-order mark), which hides text and must not split a
    word ("ki\\u200bll" reads "kill"); ``"\\n"`` for a line, page or record break (CR, VT, FF,
    the file/group/record separators, NEL, U+2028, U+2029); ``" "`` for any other C0/C1 control
    (the unit separator among them), so the words on either side stay apart. Tab and newline stay.
    """
    if char in "\t\n":
        return None
    if char in LINE_BREAKS:
        return "\n"
    category = unicodedata.category(char)
    if category == "Cf":
        return ""
    if category == "Cc":
        return " "
    return None


def _replace(match: re.Match[str]) -> str:
    char = match.group()
    replacement = control_replacement(char)
    return char if replacement is None else replacement


def clean_text(value: str) -> str:
    """NFC-normalise; CR/CRLF and other line breaks become newlines, controls spaces, Cf nothing.

    Lengths can change (CRLF, removed format characters, NFC composition); the result is
    idempotent: ``clean_text(clean_text(s)) == clean_text(s)``.
    """
    value = _CANDIDATE.sub(_replace, value.replace("\r\n", "\n"))
    # After the removals, so a mark split from its letter by a zero-width space composes too.
    return unicodedata.normalize("NFC", value)


CleanText = Annotated[str, AfterValidator(whole_characters), AfterValidator(clean_text)]
"""Text as callers send it, refused with a lone surrogate, then cleaned (``clean_text``)."""
