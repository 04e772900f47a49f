"""Strict JSON: the values Python's parser takes that JSON does not, or that no field can hold.

One check serves every place JSON comes in: HTTP request bodies (``dispatch_shared.http``) and
Kafka event bodies (``dispatch_shared.cloudevents``), so neither takes a ``NaN``, a repeated key
or a lone surrogate the other would refuse.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from dispatch_shared.text import find_lone_surrogate

MAX_JSON_DEPTH = 32
"""Deepest nesting of arrays and objects a JSON request body may have (the services need 2 or 3)."""
MAX_REPORTED_ERRORS = 20
"""Edge values listed in one 422 answer; a body full of them gets the first ones."""
INT64_MIN, INT64_MAX = -(2**63), 2**63 - 1
_INT64_DIGITS = len(str(INT64_MAX))
_JSON_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
# A JSON string (so brackets inside it are skipped) or one bracket.
_NESTING_TOKEN = re.compile(_JSON_STRING.pattern + r"|[\[\]{}]", re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
# A surrogate escape (paired or not) or a raw surrogate: strings and keys need a look.
_SURROGATE_HINT = re.compile(r"\\u[dD][89a-fA-F]|[\ud800-\udfff]")
_CLOSING = {"[": "]", "{": "}"}


@dataclass(frozen=True, slots=True)
class _Refused:
    """Stands in the parsed body for a number literal no field can hold as it was sent."""

    type: str
    msg: str


class _RepeatedKeys(dict[str, Any]):
    """An object whose text names some keys more than once (a plain dict silently keeps the last)."""

    def __init__(self, pairs: list[tuple[str, Any]], repeated: list[str]) -> None:
        super().__init__(pairs)
        self.repeated = repeated


class _Parser:
    """Hooks for one parse of a body: edge numbers and repeated keys become markers, and are noted.

    ``marked`` tells whether the parsed document needs walking for them at all.
    """

    def __init__(self) -> None:
        self.marked = False

    def parse(self, text: str) -> Any:
        return json.loads(
            text,
            parse_constant=self._constant,
            parse_float=self._float,
            parse_int=self._int,
            object_pairs_hook=self._object,
        )

    def _refuse(self, kind: str, message: str) -> _Refused:
        self.marked = True
        return _Refused(kind, message)

    def _constant(self, name: str) -> _Refused:
        # NaN, Infinity and -Infinity: Python's parser takes them, JSON (RFC 8259) has no such numbers.
        return self._refuse("finite_number", f"Input should be a finite number; JSON has no {name}")

    def _float(self, literal: str) -> float | _Refused:
        value = float(literal)
        if math.isinf(value):
            return self._refuse("number_out_of_range", "Number is too large for a 64-bit float")
        if value == 0.0 and literal.lower().partition("e")[0].strip("-.0"):
            return self._refuse("number_out_of_range", "Number is too close to zero for a 64-bit float")
        return value

    def _int(self, literal: str) -> int | _Refused:
        # Decided on the digit count first, so a literal of thousands of digits is never converted.
        if len(literal.lstrip("-")) <= _INT64_DIGITS and INT64_MIN <= (value := int(literal)) <= INT64_MAX:
            return value
        return self._refuse(
            "number_out_of_range", "Integer is outside the 64-bit range a database column holds"
        )

    def _object(self, pairs: list[tuple[str, Any]]) -> dict[str, Any]:
        parsed = dict(pairs)
        if len(parsed) == len(pairs):
            return parsed
        self.marked = True
        seen: set[str] = set()
        repeated: dict[str, None] = {}
        for key, _ in pairs:
            if key in seen:
                repeated[key] = None
            seen.add(key)
        return _RepeatedKeys(pairs, list(repeated))


def _nests_deeper(text: str, max_depth: int) -> bool:
    """Whether ``text`` nests arrays and objects deeper than ``max_depth``.

    Quick: strings and everything but brackets are dropped in C, and the count stops at the first
    level too deep. Unbalanced text is left to the parser to report.
    """
    if text.count("[") + text.count("{") <= max_depth:
        return False
    depth = 0
    for bracket in _NOT_BRACKET.sub("", _JSON_STRING.sub("", text)):
        depth += 1 if bracket in "[{" else -1
        if depth > max_depth:
            return True
    return False


def _cut_below(text: str, max_depth: int) -> str:
    """``text`` up to its first array or object nested deeper than ``max_depth``, closed there.

    That value becomes ``[]`` (still one level too deep, so the walk names where it starts) and
    the brackets still open are closed, so the parser never descends into absurd depths (Python's
    parser would fail with a RecursionError, without saying where). Other text is returned as is.
    """
    open_brackets: list[str] = []
    for token in _NESTING_TOKEN.finditer(text):
        bracket = token.group()
        if bracket in _CLOSING:
            if len(open_brackets) == max_depth:
                closing = "".join(_CLOSING[opened] for opened in reversed(open_brackets))
                return text[: token.start()] + "[]" + closing
            open_brackets.append(bracket)
        elif bracket in ("]", "}"):
            if not open_brackets:
                break  # not JSON: the framework's parser reports where
            open_brackets.pop()
    return text


def _shown(key: str) -> str:
    """A key as a JSON answer can carry it: each lone surrogate written out as a ``\\udXXX`` escape."""
    return key.encode("utf-8", "backslashreplace").decode("utf-8")


def _surrogate_error(text: str, what: str) -> str | None:
    """Why ``text`` (a string value or a key) cannot be taken, or None when it can."""
    position = find_lone_surrogate(text)
    if position is None:
        return None
    return (
        f"{what} should be valid Unicode; it holds a lone surrogate "
        f"\\u{ord(text[position]):04x} at character {position}"
    )


def _edge_errors(document: Any, max_depth: int) -> list[dict[str, Any]]:
    """The edge values in a parsed body, in document order, as FastAPI-style error details."""
    errors: list[dict[str, Any]] = []

    def refuse(loc: tuple[str | int, ...], kind: str, message: str) -> None:
        errors.append({"type": kind, "loc": ["body", *loc], "msg": message})

    # (value, where it sits, how deep it would nest if it is an array or object); a stack, not
    # recursion, so the walk's own depth never depends on the client's.
    pending: list[tuple[Any, tuple[str | int, ...], int]] = [(document, (), 1)]
    while pending and len(errors) < MAX_REPORTED_ERRORS:
        value, loc, depth = pending.pop()
        if isinstance(value, _Refused):
            refuse(loc, value.type, value.msg)
        elif isinstance(value, str):
            if problem := _surrogate_error(value, "String"):
                refuse(loc, "string_unicode", problem)
        elif isinstance(value, dict | list) and depth > max_depth:
            refuse(loc, "json_too_deep", f"Arrays and objects may nest at most {max_depth} levels deep")
        elif isinstance(value, dict):
            for key in getattr(value, "repeated", ()):
                refuse((*loc, _shown(key)), "duplicate_key", "Key appears more than once in this object")
            children: list[tuple[Any, tuple[str | int, ...], int]] = []
            for key, item in value.items():
                if problem := _surrogate_error(key, "Key"):
                    refuse((*loc, _shown(key)), "string_unicode", problem)
                else:
                    children.append((item, (*loc, key), depth + 1))
            pending.extend(reversed(children))
        elif isinstance(value, list):
            pending.extend((value[i], (*loc, i), depth + 1) for i in reversed(range(len(value))))
    return errors[:MAX_REPORTED_ERRORS]


def json_edge_errors(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> list[dict[str, Any]]:
    """Why a JSON body cannot be taken as sent, as FastAPI-style details (``type``, ``loc``, ``msg``).

    Python's parser accepts what JSON does not, or turns it into something else: ``NaN``,
    ``Infinity`` and ``-Infinity`` (``finite_number``); floats that overflow to infinity (``1e400``)
    or underflow to zero (``1e-400``) and integers outside the signed 64-bit range that every
    database column holds (``number_out_of_range``); lone UTF-16 surrogates, escaped
    (``"\\ud800"``) or raw, in strings and in keys (``string_unicode``); keys repeated in one
    object, of which only the last would be kept (``duplicate_key``); arrays and objects nested
    deeper than ``max_depth`` (``json_too_deep``). ``loc`` is ``["body", *path]``, the path of keys
    and indices to the value (for a key, the key itself, its surrogates written as escapes); no
    detail echoes the value. At most ``MAX_REPORTED_ERRORS`` details, in document order.

    Returns ``[]`` for a body with none of these, and for text that is not JSON at all, which the
    framework's parser reports with its position; undecodable bytes are a ``json_invalid`` detail.
    """
    try:
        text = body.decode(json.detect_encoding(body), "surrogatepass")
    except UnicodeDecodeError:
        return [{"type": "json_invalid", "loc": ["body"], "msg": "Body should be JSON text in UTF-8"}]
    too_deep = _nests_deeper(text, max_depth)
    parser = _Parser()
    try:
        document = parser.parse(_cut_below(text, max_depth) if too_deep else text)
    except (ValueError, RecursionError):
        return []
    if too_deep or parser.marked or _SURROGATE_HINT.search(text):
        return _edge_errors(document, max_depth)
    return []
