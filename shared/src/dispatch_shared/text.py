"""Text hygiene for what callers and CAD systems send: one Unicode form, no control characters."""

from __future__ import annotations

import re
import unicodedata
from typing import Annotated

from pydantic import AfterValidator

# C0/C1 controls except tab and newline, plus zero-width and bidi-override characters that
# can hide text from a dispatcher's eyes.
_INVISIBLE = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f\u200b-\u200f\u202a-\u202e\u2066-\u2069\ufeff]")


def clean_text(value: str) -> str:
    """NFC-normalise, drop invisible and control characters, turn CR/CRLF into newlines."""
    value = unicodedata.normalize("NFC", value).replace("\r\n", "\n").replace("\r", "\n")
    return _INVISIBLE.sub("", value)


CleanText = Annotated[str, AfterValidator(clean_text)]
