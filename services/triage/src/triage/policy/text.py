"""Text preparation for matching: one normal form, with a map back to the caller's characters."""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

# Characters callers and CAD systems use for the apostrophe and quotes.
_FOLD = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u201c": '"', "\u201d": '"'})


@dataclass(frozen=True)
class PreparedText:
    """``text`` in NFKC form with quotes folded; ``origin[i]`` is where its i-th character came from."""

    text: str
    origin: list[int]

    def original_span(self, start: int, end: int) -> tuple[int, int]:
        """The span in the original string that the prepared ``[start, end)`` came from."""
        if start >= end:
            position = (
                self.origin[start]
                if start < len(self.origin)
                else (self.origin[-1] + 1 if self.origin else 0)
            )
            return position, position
        return self.origin[start], self.origin[end - 1] + 1


def prepare(original: str) -> PreparedText:
    """Normalise ``original`` character by character, remembering each character's origin."""
    if original.isascii():
        return PreparedText(original.translate(_FOLD), list(range(len(original))))
    pieces: list[str] = []
    origin: list[int] = []
    for index, char in enumerate(original):
        normal = unicodedata.normalize("NFKC", char).translate(_FOLD)
        if unicodedata.category(char) in ("Cc", "Cf") and char not in "\n\t":
            normal = " "  # controls and invisible formatting become plain space
        pieces.append(normal)
        origin.extend([index] * len(normal))
    return PreparedText("".join(pieces), origin)


def blank(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each span replaced by as many spaces, so offsets stay valid."""
    if not spans:
        return text
    chars = list(text)
    for start, end in spans:
        chars[start:end] = " " * (end - start)
    return "".join(chars)
