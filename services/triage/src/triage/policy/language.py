"""Which language a narrative is written in, and how much of it the policy can read.

The policy's lexicons cover a few languages (English, with Spanish being added). A narrative in
any other language, or one that is mostly emoji, digits or another script, must go to a person
instead of being decided on the few words the matcher happens to recognise. ``identify`` says
which case a narrative is; the engine records its answer with the decision.

How a narrative is read (the first ``MAX_CHARS`` characters only):

1. It is split at white space into chunks. A chunk with letters is a *word* of the script most of
   its letters belong to; in scripts written without spaces (Han, kana, Thai, Lao, Khmer,
   Myanmar) each letter counts as one word. A chunk that is a CAD protocol code (ten-code
   ``10-96``, MPDS determinant ``25-B-3-V`` or ``17D04``) is a *code*. A chunk of emoji or other
   symbols is a *symbol*. Numbers and punctuation are neither: they are the same in any language.
2. Words of each script are read as one group, and the group gets one language from lingua
   (``lingua-language-detector``; its models ship inside the wheel, nothing is downloaded).
3. The Latin-script group is where English, Spanish and most uncovered languages meet, and where
   CAD shorthand (``RP ADV SUBJ W/ KNIFE``) fools statistical detectors. It gets extra rules:
   upper-case or very short text is taken as covered unless an uncovered language scores at
   least ``CLEAR_CONFIDENCE``; Haitian Creole, which lingua does not know, is recognised by its
   common words; and text whose best language is uncovered but which a covered language also
   scores is split into runs by lingua so code-switched words can be counted one by one.
4. ``readable_share`` and ``language`` follow from the groups (see ``LanguageReading``).

Cost: one lingua call per script present (most narratives: one), plus a second on the Latin
group only when it is mixed or when, read as covered, half its long words are unknown (the wide
check): about 0.14 ms per narrative (median) on one core, 0.5 ms for mixed text. The models
load once per process (``load``, 1 to 2 s): about 190 MiB for the Latin-script candidates,
which use lingua's high-accuracy mode because its low-accuracy (trigram) mode misreads short
Spanish and code-switched text, and about 3 MiB for the other scripts, which use the
low-accuracy mode. The wide detector's low-accuracy models, every Latin-script language
lingua knows, add about 0.1 s and a few MiB.

With the policy's ``known_words``, mixed-case Latin text read as covered is checked once more
against every Latin-script language lingua knows (see ``UNKNOWN_SHARE``), and informal Spanish
lingua gives to Tagalog or Portuguese is read as Spanish (see ``KNOWN_SHARE``).

Known limits: without ``known_words``, a Latin-script language that is not a candidate (German,
say, or Russian written in Latin letters) can be read as its nearest candidate; with them, a
mixed- or lower-case CAD call-type label whose long words the policy does not know ("theft - auto
accessories") may be held for review, and a short line in a language close to Spanish
("por favor mandem uma ambulancia") may still be read as Spanish; upper-case text in an
uncovered language without its own letters can pass for shorthand; and mixed-case shorthand
("Traffc/Parkng Cmplnt") may be flagged as ``und``, which sends it to review.
"""

from __future__ import annotations

import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from lingua import IsoCode639_1, Language, LanguageDetector, LanguageDetectorBuilder

UNDETERMINED = "und"
"""ISO 639-2 code for "undetermined": no words, or no language that can be told."""

DEFAULT_COVERED: frozenset[str] = frozenset({"en", "es"})
"""Languages the policy lexicons read, as ISO 639-1 codes."""

MAX_CHARS = 500
"""Only this many leading characters are read: a language shows within a few sentences, and the
cost of lingua grows with the length of the text."""

CLEAR_CONFIDENCE = 0.9
"""Lingua confidence (0..1) an uncovered language needs before upper-case or very short Latin text
is taken to be in it rather than in CAD shorthand."""

SHORT_WORDS = 3
"""Latin text with fewer words than this is "very short": too little for a trigram model alone."""

MIXED_COVERED_CONFIDENCE = 0.15
"""When the best language of Latin text is uncovered, covered languages scoring at least this
much together make the text "mixed", worth splitting into runs to count its covered words."""

REPORT_CONFIDENCE = 0.5
"""Below this, an uncovered Latin-script best guess is reported as ``und`` rather than by name."""

KNOWN_SHARE = 0.65
"""Share (0..1) of a text's Latin-script words that must be words the policy knows (see
``identify``'s ``known_words``) for text lingua gives to an uncovered language at less than
``CLEAR_CONFIDENCE`` to be read as covered: informal Spanish such as "mi tia no respira" scores
as Tagalog. Portuguese and Italian lines share many words with Spanish and stay under it."""

UNKNOWN_SHARE = 0.5
"""Share (0..1) of a mixed-case text's long words (``LONG_WORD`` letters or more) that are not
words the policy knows at which, when the wide detector also names an uncovered language, the text
is held: German, Italian, Polish, Dutch or transliterated Russian read as English or Spanish by
the candidates. Long words only, because shorthand ("veh vs ped", "pt c/o cp") is short and the
wide detector takes it for Tswana or Afrikaans."""

LONG_WORD = 4
"""Letters a word needs to count for ``UNKNOWN_SHARE``; at least ``MIN_LONG_WORDS`` must be there."""

MIN_LONG_WORDS = 2

# Latin-script candidates compete with English and Spanish on short text, so they are read with
# lingua's high-accuracy models (1- to 5-grams), which are large: about 190 MiB for these seven.
# Each extra one costs memory and is one more way for shorthand to be misread (with German,
# Italian and Polish added, over three times as many CAD call-type labels were misread), so only
# languages common among US callers are here.
_LATIN_CANDIDATES = ("en", "es", "vi", "tl", "pt", "fr", "so")
# Every Latin-script language lingua knows, in low-accuracy mode (trigrams, a few MiB in all), to
# ask whether mixed-case text that the candidates above give to a covered language is in fact in
# one they do not know (German, Italian, Dutch, Polish...). On its own it misreads a few short
# English and Spanglish lines, so it is believed only when the policy knows few of the words.
# Other scripts cannot be mistaken for covered text; low-accuracy (trigram) models, about 3 MiB,
# only have to tell apart languages sharing a script: Cyrillic, Arabic, Han and kana, Devanagari.
_OTHER_CANDIDATES = (
    "ru",
    "uk",
    "ar",
    "fa",
    "ur",
    "ko",
    "zh",
    "ja",
    "hi",
    "pa",
    "bn",
    "gu",
    "he",
    "el",
    "hy",
    "th",
)

# Haitian Creole is common in 911 calls in several US regions, but lingua has no model for it: its
# text scores as French, Tagalog or Yoruba at low confidence. These words are frequent in Kreyòl
# and are not words of English, Spanish or the other Latin-script candidates (short ones that are,
# such as "la", "se", "te", "pa", "sa", "yo", are left out).
_HAITIAN_WORDS = frozenset(
    "mwen yon nou li nan ak gen ki pou epi tanpri kounye konnen vle bezwen pitit manman lakay "
    "kouto touye tonbe anpil timoun fanm kote isit lopital lapolis pral fè kijan poukisa".split()
)
_HAITIAN_MIN_WORDS = 3
_HAITIAN_MIN_SHARE = 0.3

# CAD protocol codes: ten-codes (10-96) and MPDS determinants (25-B-3-V, 17-D-4, 09E01, 26A1).
_CODE = re.compile(r"10-\d{1,3}|\d{1,2}-?[A-EO]-?\d{1,2}(?:-?[A-Z])?", re.IGNORECASE)
_PUNCT_EDGES = "\"'()[]{}<>,.;:!?¡¿«»“”‘’…-–—/\\|*#@&%+=~^_"

_LATIN = "LATIN"
_CJK = "CJK"
_SYMBOL = "SYMBOL"
# Scripts written without spaces between words: each letter counts as one word.
_UNSPACED = frozenset({_CJK, "THAI", "LAO", "KHMER", "MYANMAR"})


@dataclass(frozen=True, slots=True)
class LanguageReading:
    """What ``identify`` found.

    ``language``: ISO 639-1 code (lower case) of the dominant language, the one with the most
    words, or ``"und"`` when no language can be told (no words, or an uncertain guess).
    ``covered``: whether the policy can read the text: more than half of its counted tokens are
    readable (exactly half will do when the dominant language is covered). So a narrative in a
    covered language, or code-switched between covered languages, is covered; one in another
    language, or mostly emoji or another script, is not.
    ``readable_share``: in [0, 1], the share of counted tokens that are in covered languages.
    Counted tokens are words, CAD codes and symbol runs (emoji): symbols are never readable, codes
    are readable when English is covered, and a word is readable when its script group's language
    is covered (for mixed Latin text, when lingua puts its run in a covered language). Numbers
    and punctuation are not counted. 0.0 when nothing is counted.
    """

    language: str
    covered: bool
    readable_share: float


@dataclass(frozen=True, slots=True)
class _Detectors:
    latin: LanguageDetector
    other: LanguageDetector
    wide: LanguageDetector


MIN_LETTERS = 4
"""Latin-script text with fewer letters than this is too short to tell its language: ``und``."""

_detectors: _Detectors | None = None
_detectors_lock = threading.Lock()


def load() -> None:
    """Build the lingua detectors and load their models now rather than on the first narrative.

    Takes 1 to 2 s and about 200 MiB, once per process; thread-safe. ``identify`` calls it itself.
    """
    _loaded()


def _loaded() -> _Detectors:
    global _detectors
    if _detectors is None:
        with _detectors_lock:
            if _detectors is None:
                latin = LanguageDetectorBuilder.from_languages(*_languages(_LATIN_CANDIDATES))
                other = LanguageDetectorBuilder.from_languages(*_languages(_OTHER_CANDIDATES))
                wide = LanguageDetectorBuilder.from_languages(*Language.all_with_latin_script())
                _detectors = _Detectors(
                    latin=latin.with_preloaded_language_models().build(),
                    other=other.with_low_accuracy_mode().with_preloaded_language_models().build(),
                    wide=wide.with_low_accuracy_mode().with_preloaded_language_models().build(),
                )
    return _detectors


def _languages(codes: tuple[str, ...]) -> list[Language]:
    return [Language.from_iso_code_639_1(getattr(IsoCode639_1, code.upper())) for code in codes]


def identify(
    text: str, covered: frozenset[str] = DEFAULT_COVERED, known_words: frozenset[str] = frozenset()
) -> LanguageReading:
    """Read the language of ``text`` (any ``str``, including lone surrogates) against ``covered``.

    ``covered`` holds ISO 639-1 codes in lower case. ``known_words`` are the words the policy
    knows in its covered languages (lower case, without accents: its function words, shorthand and
    the words of its phrases); when given, they settle Latin-script text the detectors are unsure
    of (see ``KNOWN_SHARE``); when empty, the detectors alone decide. Only the first ``MAX_CHARS``
    characters are read. Never raises for a ``str``; returns ``("und", False, 0.0)`` when there
    are no words.
    """
    words_by_script, codes, symbols = _tokens(_clean(text[:MAX_CHARS]))
    sizes = {script: _size(script, words) for script, words in words_by_script.items()}
    counted = sum(sizes.values()) + codes + symbols
    if not sizes and not codes:
        return LanguageReading(UNDETERMINED, False, 0.0)
    latin = words_by_script.get(_LATIN, [])
    if not codes and set(words_by_script) == {_LATIN} and _letters(latin) < MIN_LETTERS and _lower(latin):
        # "x", "ok", "nul": too little to tell a language by, and nothing to interpret either
        # (capitals, "SOB", "NFD", are CAD shorthand and read as such below).
        return LanguageReading(UNDETERMINED, True, 1.0)

    readable = codes if "en" in covered else 0
    tally: Counter[str] = Counter({"en": codes})
    for script, words in words_by_script.items():
        if script == _LATIN:
            language, words_readable = _read_latin(words, covered, known_words)
        else:
            language = _best(" ".join(words))
            words_readable = sizes[script] if language in covered else 0
        tally[language] += sizes[script]
        readable += words_readable

    dominant = _dominant(tally)
    mostly_readable = readable * 2 > counted or (readable * 2 == counted and dominant in covered)
    return LanguageReading(language=dominant, covered=mostly_readable, readable_share=readable / counted)


def _lower(words: list[str]) -> bool:
    return any(char.islower() for word in words for char in word)


def _letters(words: list[str]) -> int:
    return sum(1 for word in words for char in word if char.isalpha())


def _clean(text: str) -> str:
    """``text`` as valid NFKC Unicode: lone surrogates become "?" (lingua's Rust side rejects them),
    and compatibility forms (full-width Latin, ligatures) become plain letters."""
    text = text.encode("utf-8", errors="replace").decode("utf-8", errors="replace")
    return unicodedata.normalize("NFKC", text)


def _tokens(text: str) -> tuple[dict[str, list[str]], int, int]:
    """(words grouped by script, number of CAD codes, number of symbol chunks) of ``text``."""
    words: dict[str, list[str]] = {}
    codes = symbols = 0
    for chunk in text.split():
        chunk = chunk.strip(_PUNCT_EDGES)
        if not chunk:
            continue
        if _CODE.fullmatch(chunk):
            codes += 1
            continue
        script = _chunk_script(chunk)
        if script == _SYMBOL:
            symbols += 1
        elif script:
            words.setdefault(script, []).append(chunk)
    return words, codes, symbols


def _chunk_script(chunk: str) -> str:
    """The script most letters of ``chunk`` are in, ``_SYMBOL`` for symbols only, "" for neither."""
    if chunk.isascii():
        return _LATIN if any(c.isalpha() for c in chunk) else ""
    scripts: Counter[str] = Counter()
    has_symbol = has_digit = False
    for char in chunk:
        kind = _char_kind(char)
        if kind == _SYMBOL:
            has_symbol = True
        elif kind:
            scripts[kind] += 1
        else:
            has_digit = has_digit or char.isdigit()
    if scripts:
        return scripts.most_common(1)[0][0]
    return _SYMBOL if has_symbol and not has_digit else ""


@lru_cache(maxsize=8192)
def _char_kind(char: str) -> str:
    """A letter's script group, ``_SYMBOL`` for emoji-like symbols, "" for anything else.

    The script is the first word of the letter's Unicode name ("LATIN", "CYRILLIC", "HANGUL"...);
    Han and kana are one group, ``_CJK``, since Japanese mixes them within a sentence.
    """
    category = unicodedata.category(char)
    if category[0] == "L":
        script = unicodedata.name(char, "UNKNOWN").split(" ", 1)[0]
        return _CJK if script in ("CJK", "HIRAGANA", "KATAKANA") else script
    if category in ("So", "Co", "Cn"):  # pictographs and emoji; unassigned and private-use code points
        return _SYMBOL
    return ""


def _size(script: str, words: list[str]) -> int:
    """How many words ``words`` count for: letters in unspaced scripts, chunks otherwise."""
    if script in _UNSPACED:
        return sum(1 for word in words for char in word if _char_kind(char) == script)
    return len(words)


def _code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()


def _confidences(text: str) -> list[tuple[str, float]]:
    """Lingua's (ISO 639-1 code, confidence in 0..1) for Latin-script ``text``, best first."""
    return [
        (_code(value.language), value.value)
        for value in _loaded().latin.compute_language_confidence_values(text)
    ]


def _best(text: str) -> str:
    """Lingua's best language for non-Latin ``text``, or ``und`` when it cannot tell."""
    language = _loaded().other.detect_language_of(text)
    return _code(language) if language is not None else UNDETERMINED


def _read_latin(words: list[str], covered: frozenset[str], known: frozenset[str]) -> tuple[str, int]:
    """(language, number of readable words) for the Latin-script words of a narrative.

    With ``known`` words, a reading of mixed-case text as covered stands only if the wide
    detector agrees or enough of the words are known (``KNOWN_SHARE``).
    """
    language, readable = _read_latin_by_detectors(words, covered, known)
    text = " ".join(words)
    if not known or language not in covered or len(words) < SHORT_WORDS or not _lower(words):
        return language, readable
    long_words = [word for word in words if sum(char.isalpha() for char in word) >= LONG_WORD]
    if len(long_words) < MIN_LONG_WORDS:
        return language, readable
    unknown = 1 - _known_share(long_words, known)
    if unknown < UNKNOWN_SHARE:
        return language, readable
    wide = _loaded().wide.compute_language_confidence_values(text)
    if not wide or _code(wide[0].language) in covered:
        return language, readable
    # The wide detector's low-accuracy models misread some English lines, so it must be clear,
    # unless none of at least SHORT_WORDS long words is known: transliterated Russian, which no
    # model knows, gets a low score in some uncovered language ("moi sosed ugrozhaet mne nozhom").
    nothing_known = unknown == 1 and len(long_words) >= SHORT_WORDS
    if not nothing_known and wide[0].value < CLEAR_CONFIDENCE:
        return language, readable
    # Mixed-case text in a language the candidates do not know (German read as English), or
    # switching to one: lingua names it, and half its long words are not the policy's. Only the
    # words of runs the wide detector puts in a covered language are read.
    readable = min(_covered_words(text, covered, _loaded().wide), len(words))
    if readable * 2 >= len(words):
        return language, readable
    return (_code(wide[0].language) if wide[0].value >= CLEAR_CONFIDENCE else UNDETERMINED), readable


def _known_share(words: list[str], known: frozenset[str]) -> float:
    """The share of ``words`` (non-empty) that are in ``known``, compared lower case without accents."""
    return sum(1 for word in words if _bare(word) in known) / len(words)


@lru_cache(maxsize=8192)
def _bare(word: str) -> str:
    """``word`` in lower case, without accents, and without a trailing possessive "'s"."""
    decomposed = unicodedata.normalize("NFKD", word.lower())
    bare = "".join(char for char in decomposed if not unicodedata.combining(char))
    return bare.removesuffix("'s").removesuffix("\u2019s")


def _read_latin_by_detectors(
    words: list[str], covered: frozenset[str], known: frozenset[str]
) -> tuple[str, int]:
    """``_read_latin`` before the wide check: the candidates' reading, with ``known`` for close calls."""
    if _is_haitian(words):
        return "ht", len(words) if "ht" in covered else 0
    text = " ".join(words)
    confidences = _confidences(text)
    if not confidences:
        return UNDETERMINED, 0
    top, top_confidence = confidences[0]
    capitals = not any(char.islower() for char in text)
    shorthand = capitals or len(words) < SHORT_WORDS
    if shorthand and (top in covered or top_confidence < CLEAR_CONFIDENCE):
        # CAD shorthand and fragments: an uncovered language must be clear before it is believed,
        # and until then the text is in a covered language or in English, CAD's own language.
        language = _pick(confidences, covered | {"en"}, capitals) or "en"
        return language, len(words) if language in covered else 0
    if top in covered:
        return top, len(words)
    if known and top_confidence < CLEAR_CONFIDENCE and _known_share(words, known) >= KNOWN_SHARE:
        # No uncovered language clearly ahead, and the policy knows most of the words: informal
        # Spanish that lingua puts in Tagalog or Portuguese ("mi tio se desmayo y no respira").
        chosen = _pick(confidences, covered, capitals)
        if chosen is not None:
            return chosen, len(words)
    guess = top if top_confidence >= REPORT_CONFIDENCE else UNDETERMINED
    covered_confidence = sum(value for code, value in confidences if code in covered)
    if top_confidence < CLEAR_CONFIDENCE and covered_confidence >= MIXED_COVERED_CONFIDENCE:
        # Lingua's runs may split a word in two: never count more words than there are.
        readable = min(_covered_words(text, covered), len(words))
        mostly = readable * 2 >= len(words)
        return (_pick(confidences, covered, capitals) or guess) if mostly else guess, readable
    return guess, 0


def _pick(confidences: list[tuple[str, float]], among: frozenset[str], capitals: bool) -> str | None:
    """The language in ``among`` scoring best, English counting double in capitals; None if none scores.

    CAD systems write in capitals and their shorthand is English, so on upper-case text English
    wins near ties with another language ("ALS REQ, CP W/ SOB": es 0.28, en 0.27).
    """
    best, best_score = None, 0.0
    for code, value in confidences:
        score = value * (2 if capitals and code == "en" else 1)
        if code in among and score > best_score:
            best, best_score = code, score
    return best


def _covered_words(text: str, covered: frozenset[str], detector: LanguageDetector | None = None) -> int:
    """How many words of ``text`` lie in runs that lingua (``detector``, by default the
    candidates') puts in a covered language."""
    count = 0
    for run in (detector or _loaded().latin).detect_multiple_languages_of(text):
        if _code(run.language) in covered:
            count += len(text[run.start_index : run.end_index].split())
    return count


def _is_haitian(words: list[str]) -> bool:
    hits = sum(1 for word in words if word.lower() in _HAITIAN_WORDS)
    return hits >= _HAITIAN_MIN_WORDS and hits >= _HAITIAN_MIN_SHARE * len(words)


def _dominant(tally: Counter[str]) -> str:
    """The language with the most words; a determined language wins a tie against ``und``."""
    ranked = sorted(tally.items(), key=lambda item: (-item[1], item[0] == UNDETERMINED, item[0]))
    return ranked[0][0] if ranked and ranked[0][1] > 0 else UNDETERMINED
