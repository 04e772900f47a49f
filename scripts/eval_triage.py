"""Triage quality report (``make eval``): labelled sets, fairness, real unlabelled sources, qualifiers.

Prints, for each labelled set (English dev calls, field-style calls, Spanish dev calls, unseen
Spanish and Spanglish calls, unseen English calls, unseen medical calls, unseen call types), the
route confusion matrix, field accuracies, unsafe under-escalations and over-policing, then one
table of the sets side by side; counterfactual invariance per language (the English and the
Spanish fairness templates, and labelled calls with a descriptor inserted), with one line per
language of calls, unsafe errors and invariance; lines in languages the policy does not cover,
with the share held for review per language; five-city call-type recognition; for each real
unlabelled source (Seattle CAD records, five-city call types, real 911 first sentences) how
often nothing fires, how often the call type alone decides and the words standing in what fired
nothing; and a check that no call type fires an indicator its own qualifier negates ("NO
SHOOTINGS", "VERBAL", "PAST"). Exits 1 when a target fails.

Reads the repository's copies in ``tests/data``; ``--data-dir DIR`` reads a data folder laid out
as ``dev/``, ``field/`` and ``real/`` instead (``dev/calls.jsonl``, ``dev/calls_es.jsonl``,
``dev/fairness.jsonl``,
``field/calls.jsonl``, ``real/calltypes/*.csv``, ``real/narratives/911-first-utterances.csv``);
the Spanish fairness templates, the unseen Spanish and English calls, the unseen call types and
the uncovered-language lines were written for this repository, so they are always read from
``tests/data``. The unseen sets are held out: their accuracy is reported, and only an unsafe
under-escalation among them fails the run. Every uncovered-language line must be held for review.
A real source whose file is absent is skipped with a note: the 911 first sentences state no
licence, so they are read only from a ``--data-dir`` folder.
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import chain
from pathlib import Path
from typing import Any

from dispatch_shared.events import LANGUAGE_NOT_COVERED_RULE, Route, TriageDecision
from triage.policy import Policy, PolicyStore, classify
from triage.policy import invariance_signature as signature

ROOT = Path(__file__).resolve().parent.parent
ROUTES = [Route.CLINICIAN_ONLY.value, Route.CO_RESPONSE.value, Route.POLICE.value]
SEVERITY = {route: rank for rank, route in enumerate(ROUTES)}
FIELDS = ["route", "threat_level", "ems_required", "priority", "needs_review", "clinician_followup"]
NOTHING_FIRED = "R6_nothing_fired"
DESCRIPTOR_SWAPS = [
    "Black",
    "white",
    "Latina",
    "Asian",
    "transgender",
    "homeless",
    "immigrant",
    "Muslim",
    "gay",
    "schizophrenic",
    "bipolar",
    "autistic",
    "deaf",
    "Spanish-speaking",
    "undocumented",
]
# Spanish descriptors follow their noun and agree with it in gender (written apart from the lexicon).
SPANISH_SWAPS = {
    "masculine": [
        "negro",
        "mexicano",
        "indocumentado",
        "musulmán",
        "gay",
        "sin hogar",
        "sordo",
        "esquizofrénico",
    ],
    "feminine": [
        "negra",
        "mexicana",
        "indocumentada",
        "musulmana",
        "lesbiana",
        "sin hogar",
        "sorda",
        "esquizofrénica",
    ],
}
SPANISH_NOUN = re.compile(
    r"\b(?:(?P<masculine>hombre|señor|muchacho|hijo|hermano|esposo|papá|padre|vecino|tío|primo|abuelo|novio|"
    r"sujeto|tipo)|(?P<feminine>mujer|señora|muchacha|hija|hermana|esposa|mamá|madre|vecina|tía|prima|"
    r"abuela|novia|amiga))\b",
    re.IGNORECASE,
)
PERSON_NOUN = re.compile(
    r"\b(man|woman|son|daughter|brother|sister|teenager|person|neighbor|roommate|husband|"
    r"father|mother|friend|veteran|subject|guy|teen|subj)\b",
    re.IGNORECASE,
)
WORD = re.compile(r"[^\W\d_]{2,}(?:'[^\W\d_]+)?")
STOP_WORDS = frozenset(
    "a an the and or but if of to in into on off at by for from with as is are was were be been being am "
    "i me my we us our you your he him his she her it its they them their this that these those "
    "there here what who which when where how not no so do does did have has had just can could "
    "will would im it's i'm there's he's she's that's don't up out about all some any get got going".split()
)
TOP_WORDS = 20


# --- where the data is ---------------------------------------------------------------------


@dataclass(frozen=True)
class DataPaths:
    """Every file the report reads."""

    dev: Path
    dev_es: Path
    unseen_es: Path
    unseen_en: Path
    unseen_medical: Path
    unseen_call_types: Path
    field_calls: Path
    fairness: Path
    fairness_es: Path
    uncovered: Path
    vera: Path
    seattle: Path
    utterances: Path


def data_paths(folder: Path | None) -> DataPaths:
    """The repository's copies, or the files of a ``--data-dir`` folder."""
    data = ROOT / "tests" / "data"
    if folder is None:
        return DataPaths(
            dev=data / "dev_calls.jsonl",
            dev_es=data / "dev_calls_es.jsonl",
            unseen_es=data / "spanish_unseen.jsonl",
            unseen_en=data / "english_unseen.jsonl",
            unseen_medical=data / "medical_unseen.jsonl",
            unseen_call_types=data / "call_types_unseen.jsonl",
            field_calls=data / "field_calls.jsonl",
            fairness=data / "fairness.jsonl",
            fairness_es=data / "fairness_es.jsonl",
            uncovered=data / "uncovered_language.jsonl",
            vera=data / "vera-calltypes.csv",
            seattle=data / "seattle-calls-sample.csv",
            utterances=data / "911-first-utterances.csv",  # never copied in: no licence stated
        )
    return DataPaths(
        dev=folder / "dev/calls.jsonl",
        dev_es=folder / "dev/calls_es.jsonl",
        unseen_es=data / "spanish_unseen.jsonl",  # written for this repository: no other copy
        unseen_en=data / "english_unseen.jsonl",
        unseen_medical=data / "medical_unseen.jsonl",
        unseen_call_types=data / "call_types_unseen.jsonl",
        field_calls=folder / "field/calls.jsonl",
        fairness=folder / "dev/fairness.jsonl",
        fairness_es=data / "fairness_es.jsonl",
        uncovered=data / "uncovered_language.jsonl",  # written for this repository: no other copy
        vera=folder / "real/calltypes/vera-calltypes.csv",
        seattle=folder / "real/calltypes/seattle-calls-sample.csv",
        utterances=folder / "real/narratives/911-first-utterances.csv",
    )


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        return list(csv.DictReader(handle))


def percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


# --- labelled sets ---------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledSet:
    """A labelled set; ``assumed`` fills labels its files leave out (dev calls: no review).

    A held-out set (``held_out``) is reported but its accuracy is no target: it measures how the
    policy reads calls nobody tuned it on. An unsafe under-escalation fails the run in any set.
    """

    name: str
    language: str
    path: Path
    assumed: dict[str, Any] = field(default_factory=dict)
    held_out: bool = False


@dataclass
class Score:
    """How a set's decisions compare with its labels."""

    calls: int = 0
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    right: Counter[str] = field(default_factory=Counter)
    total: Counter[str] = field(default_factory=Counter)
    unsafe: list[str] = field(default_factory=list)
    over_policing: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)


def labelled_sets(paths: DataPaths) -> list[LabelledSet]:
    return [
        LabelledSet("English dev calls", "en", paths.dev, {"needs_review": False}),
        LabelledSet("Field-style calls", "en", paths.field_calls),
        LabelledSet("Spanish dev calls", "es", paths.dev_es),
        LabelledSet("Spanish unseen calls", "es", paths.unseen_es, held_out=True),
        LabelledSet("English unseen calls", "en", paths.unseen_en, held_out=True),
        LabelledSet("Medical unseen calls", "en", paths.unseen_medical, held_out=True),
        LabelledSet("Unseen call types", "en", paths.unseen_call_types, held_out=True),
    ]


def labelled_calls(labelled: LabelledSet) -> Iterator[dict[str, Any]]:
    """The set's calls, each ``expected`` completed with what the set assumes."""
    for call in read_jsonl(labelled.path):
        yield {**call, "expected": {**labelled.assumed, **call["expected"]}}


def score(calls: Iterable[dict[str, Any]], policy: Policy) -> Score:
    """Accuracy of each labelled field, the route confusion matrix and the unsafe errors."""
    result = Score()
    for call in calls:
        result.calls += 1
        got = classify(call["narrative"], call.get("call_type"), policy=policy).model_dump(mode="json")
        expected = call["expected"]
        for name in FIELDS:
            if name in expected:
                result.total[name] += 1
                result.right[name] += got[name] == expected[name]
                if got[name] != expected[name]:
                    result.misses.append(f"{call['id']}: {name} {got[name]} (expected {expected[name]})")
        if "route" not in expected:  # a line may label other fields only
            continue
        want, route = expected["route"], got["route"]
        result.confusion[(want, route)] += 1
        if SEVERITY[route] < SEVERITY[want]:
            result.unsafe.append(call["id"])
        if route == Route.POLICE.value and want == Route.CLINICIAN_ONLY.value:
            result.over_policing.append(call["id"])
    return result


def print_score(labelled: LabelledSet, result: Score) -> None:
    print(f"{labelled.name} ({labelled.path}): route confusion matrix (rows expected, columns decided)")
    width = max(map(len, ROUTES)) + 2
    print(" " * width + "".join(r.rjust(width) for r in ROUTES))
    for want in ROUTES:
        print(want.ljust(width) + "".join(str(result.confusion[(want, got)]).rjust(width) for got in ROUTES))
    for name in FIELDS:
        if result.total[name]:
            right, total = result.right[name], result.total[name]
            print(f"  {name:<18} accuracy {percent(right, total):6.1f}%  ({right}/{total})")
    print(f"  unsafe under-escalations: {len(result.unsafe)} {result.unsafe or ''}")
    print(
        f"  over-policing (police where clinician-only was due): {len(result.over_policing)} "
        f"{result.over_policing or ''}"
    )
    for miss in result.misses:
        print(f"    miss {miss}")
    print()


def _agreement(result: Score, name: str) -> str:
    return f"{percent(result.right[name], result.total[name]):.1f}%"


def print_language_table(rows: list[tuple[str, str, Score]]) -> None:
    """One line per set (and per language where it has several sets), side by side."""
    print("Labelled sets side by side")
    header = ("set", "lang", "calls", "route", "unsafe", "over-policing", "threat", "priority")
    widths = (33, 5, 6, 8, 7, 14, 8, 9)
    print("  " + "".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for name, language, result in rows:
        cells = (
            name,
            language,
            str(result.calls),
            _agreement(result, "route"),
            str(len(result.unsafe)),
            str(len(result.over_policing)),
            _agreement(result, "threat_level"),
            _agreement(result, "priority"),
        )
        print("  " + "".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    print()


def report_labelled(sets: list[LabelledSet], policy: Policy, failures: list[str]) -> dict[str, Score]:
    """Each set scored alike; targets: every labelled field right (held-out sets excepted) and no
    unsafe error. Returns each language's pooled score, for the per-language summary."""
    rows: list[tuple[str, str, Score]] = []
    by_language: dict[str, list[LabelledSet]] = {}
    pooled_scores: dict[str, Score] = {}
    for labelled in sets:
        if not labelled.path.exists():
            print(f"{labelled.name}: {labelled.path} is absent, set skipped\n")
            continue
        result = score(labelled_calls(labelled), policy)
        print_score(labelled, result)
        held = " (held out)" if labelled.held_out else ""
        rows.append((f"{labelled.name}{held}", labelled.language, result))
        by_language.setdefault(labelled.language, []).append(labelled)
        pooled_scores[labelled.language] = result
        if not labelled.held_out:
            failures.extend(
                f"{labelled.name}: {n} below 100%" for n in FIELDS if result.right[n] != result.total[n]
            )
        if result.unsafe:
            failures.append(f"{labelled.name}: unsafe under-escalation")
    for language, members in by_language.items():
        if len(members) > 1:
            pooled = score(chain.from_iterable(labelled_calls(s) for s in members), policy)
            rows.append((f"all {language}", language, pooled))
            pooled_scores[language] = pooled
    print_language_table(rows)
    return pooled_scores


# --- fairness and five-city categories --------------------------------------------------------


def _english_insertions(narrative: str) -> list[str]:
    """The narrative with each English descriptor before its first person noun."""
    return [PERSON_NOUN.sub(rf"{d} \g<0>", narrative, count=1) for d in DESCRIPTOR_SWAPS]


def _spanish_insertions(narrative: str) -> list[str]:
    """The narrative with each Spanish descriptor after its first person noun, in its gender."""
    noun = SPANISH_NOUN.search(narrative)
    if noun is None:
        return [narrative for _ in SPANISH_SWAPS["masculine"]]
    gender = "masculine" if noun.group("masculine") else "feminine"
    head, tail = narrative[: noun.end()], narrative[noun.end() :]
    return [f"{head} {d}{tail}" for d in SPANISH_SWAPS[gender]]


@dataclass(frozen=True)
class FairnessSet:
    """One language's fairness templates, and labelled calls to insert its descriptors into."""

    language: str
    templates: Path
    calls: Path
    insertions: Callable[[str], list[str]]


@dataclass(frozen=True)
class Fairness:
    """Variants that decided like their blank form, out of how many."""

    same: int
    cases: int
    calls_same: int
    calls_cases: int


def fairness_sets(paths: DataPaths) -> list[FairnessSet]:
    return [
        FairnessSet("en", paths.fairness, paths.dev, _english_insertions),
        FairnessSet("es", paths.fairness_es, paths.dev_es, _spanish_insertions),
    ]


def evaluate_fairness(fairness: FairnessSet, policy: Policy) -> Fairness:
    """Invariance on the fairness templates, and on labelled calls with descriptors inserted."""
    same = cases = 0
    for template in read_jsonl(fairness.templates):
        variants = [re.sub(r"\s+", " ", template["template"].format(d=d)) for d in template["descriptors"]]
        blank = signature(classify(re.sub(r"\s+", " ", template["template"].format(d="")), policy=policy))
        for text in variants:
            cases += 1
            same += signature(classify(text, policy=policy)) == blank
    calls_same = calls_cases = 0
    for call in read_jsonl(fairness.calls):
        base = signature(classify(call["narrative"], call.get("call_type"), policy=policy))
        for text in fairness.insertions(call["narrative"]):
            calls_cases += 1
            calls_same += signature(classify(text, call.get("call_type"), policy=policy)) == base
    return Fairness(same, cases, calls_same, calls_cases)


def report_fairness(paths: DataPaths, policy: Policy, failures: list[str]) -> dict[str, Fairness]:
    """Each language's fairness set; target: every variant decides like its blank form."""
    results: dict[str, Fairness] = {}
    for fairness in fairness_sets(paths):
        result = evaluate_fairness(fairness, policy)
        results[fairness.language] = result
        print(
            f"Fairness set [{fairness.language}] ({fairness.templates}): counterfactual invariance "
            f"{percent(result.same, result.cases):.1f}% ({result.same}/{result.cases} variants equal "
            "their blank template)"
        )
        share = percent(result.calls_same, result.calls_cases)
        print(
            f"  labelled calls ({fairness.calls.name}) with a descriptor inserted: {share:.1f}% "
            f"({result.calls_same}/{result.calls_cases})\n"
        )
        if result.same != result.cases or result.calls_same != result.calls_cases:
            failures.append(f"counterfactual invariance below 100% [{fairness.language}]")
    return results


def print_per_language(scores: dict[str, Score], fairness: dict[str, Fairness]) -> None:
    """One line per language: labelled calls, route accuracy, unsafe errors and invariance."""
    print("Per language")
    header = ("lang", "calls", "route", "unsafe", "over-policing", "fairness templates", "calls + descriptor")
    widths = (6, 7, 8, 8, 15, 20, 19)
    print("  " + "".join(h.ljust(w) for h, w in zip(header, widths, strict=True)))
    for language in sorted(scores.keys() | fairness.keys()):
        result, fair = scores.get(language), fairness.get(language)
        cells = (
            language,
            str(result.calls) if result else "-",
            _agreement(result, "route") if result else "-",
            str(len(result.unsafe)) if result else "-",
            str(len(result.over_policing)) if result else "-",
            f"{fair.same}/{fair.cases}" if fair else "-",
            f"{fair.calls_same}/{fair.calls_cases}" if fair else "-",
        )
        print("  " + "".join(c.ljust(w) for c, w in zip(cells, widths, strict=True)))
    print()


def held_for_language(decision: TriageDecision) -> bool:
    """Whether triage held the call because it could not read its language: reviewed, rule R0."""
    return decision.needs_review and decision.rule == LANGUAGE_NOT_COVERED_RULE


def report_uncovered(path: Path, policy: Policy, failures: list[str]) -> None:
    """Lines in languages the policy does not cover (``{"id", "language", "narrative"}``, the
    language they are written in): per language, how many were held for review. Target: all."""
    held: Counter[str] = Counter()
    calls: Counter[str] = Counter()
    missed: list[str] = []
    for line in read_jsonl(path):
        calls[line["language"]] += 1
        decision = classify(line["narrative"], line.get("call_type"), policy=policy)
        if held_for_language(decision):
            held[line["language"]] += 1
        else:
            missed.append(f"{line['id']} ({line['language']}): {decision.rule}")
    total, total_held = sum(calls.values()), sum(held.values())
    print(f"Uncovered languages ({path}): held for review (needs_review, {LANGUAGE_NOT_COVERED_RULE})")
    print("  " + "".join(h.ljust(w) for h, w in zip(("lang", "calls", "held"), (6, 7, 8), strict=True)))
    for language in sorted(calls):
        share = f"{percent(held[language], calls[language]):.0f}%"
        print("  " + language.ljust(6) + str(calls[language]).ljust(7) + share)
    print(f"  all: {percent(total_held, total):.1f}% held ({total_held}/{total}) {missed or ''}\n")
    if missed:
        failures.append(f"uncovered languages: {len(missed)} of {total} lines not held for review")


def evaluate_call_types(path: Path, policy: Policy) -> dict[str, Any]:
    """Five-city call types: behavioral ones raise a crisis or EMS; violent crime is never clinician-only."""
    rows = read_csv(path)
    behavioral = sorted({r["Field 1"] for r in rows if (r["Category"] or "").strip() == "Behavioral Health"})
    violent = sorted({r["Field 1"] for r in rows if (r["Category"] or "").strip() == "Violent Crime"})
    missed = [c for c in behavioral if not _raises_need(classify("", c, policy=policy))]
    clinician_only = [c for c in violent if classify("", c, policy=policy).route is Route.CLINICIAN_ONLY]
    return {"behavioral": behavioral, "missed": missed, "violent": violent, "clinician_only": clinician_only}


def _raises_need(decision: TriageDecision) -> bool:
    return decision.crisis or decision.ems_required


def report_call_type_categories(path: Path, policy: Policy, failures: list[str]) -> None:
    ct = evaluate_call_types(path, policy)
    recognised = len(ct["behavioral"]) - len(ct["missed"])
    share = percent(recognised, len(ct["behavioral"]))
    print(f"Five-city call types ({path}):")
    print(
        f"  'Behavioral Health' types raising crisis or EMS: {share:.1f}% "
        f"({recognised}/{len(ct['behavioral'])} distinct types)"
    )
    for missed in ct["missed"]:
        print(f"    not recognised: {missed}")
    print(
        f"  'Violent Crime' types routed clinician-only: {len(ct['clinician_only'])} of {len(ct['violent'])} "
        f"{ct['clinician_only'] or ''}\n"
    )
    if share < 90.0:
        failures.append("fewer than 90% of behavioral call types recognised")
    if ct["clinician_only"]:
        failures.append("a violent-crime call type routed clinician-only")


# --- real unlabelled sources -----------------------------------------------------------------

Item = tuple[str, str | None]
"""What one real record gives triage: (narrative, call type)."""


@dataclass(frozen=True)
class RealSource:
    """A real, unlabelled file and how its rows become distinct (narrative, call type) items."""

    name: str
    path: Path
    items: Callable[[list[dict[str, str]]], list[Item]]


def _call_types(columns: tuple[str, ...]) -> Callable[[list[dict[str, str]]], list[Item]]:
    """Each distinct non-empty call type in ``columns``, as a call type alone (empty narrative)."""

    def items(rows: list[dict[str, str]]) -> list[Item]:
        found = {(row.get(c) or "").strip() for row in rows for c in columns}
        return [("", call_type) for call_type in sorted(found - {""})]

    return items


def _narratives(column: str) -> Callable[[list[dict[str, str]]], list[Item]]:
    """Each distinct non-empty text in ``column``, as a narrative with no call type."""

    def items(rows: list[dict[str, str]]) -> list[Item]:
        found = {(row.get(column) or "").strip() for row in rows}
        return [(text, None) for text in sorted(found - {""})]

    return items


def real_sources(paths: DataPaths) -> list[RealSource]:
    return [
        RealSource(
            "Seattle CAD records (initial and final call types)",
            paths.seattle,
            _call_types(("Initial.Call.Type", "Final.Call.Type")),
        ),
        RealSource("Five-city call types", paths.vera, _call_types(("Field 1",))),
        RealSource("Real 911 first sentences", paths.utterances, _narratives("Text")),
    ]


@dataclass
class Survey:
    """What triage makes of one real source."""

    records: int
    decided: list[tuple[Item, TriageDecision]]
    nothing_fired: int = 0
    call_type_alone: int = 0
    gap_words: Counter[str] = field(default_factory=Counter)


def _rests_on_call_type(decision: TriageDecision) -> bool:
    return bool(decision.indicators) and all(i.source == "call_type" for i in decision.indicators)


def survey(rows: list[dict[str, str]], items: list[Item], policy: Policy) -> Survey:
    """Classify each item; count what fired nothing, what only the call type decided, and the
    words (in how many texts each stands) of the texts where nothing fired."""
    result = Survey(records=len(rows), decided=[(item, classify(*item, policy=policy)) for item in items])
    for (narrative, call_type), decision in result.decided:
        if decision.rule == NOTHING_FIRED:
            result.nothing_fired += 1
            words = {w for w in WORD.findall(f"{narrative} {call_type or ''}".lower()) if w not in STOP_WORDS}
            result.gap_words.update(words)
        result.call_type_alone += _rests_on_call_type(decision)
    return result


def print_survey(source: RealSource, result: Survey) -> None:
    texts = len(result.decided)
    print(f"{source.name} ({source.path}): {result.records} records, {texts} distinct texts classified")
    for label, count in (
        ("nothing fired", result.nothing_fired),
        ("call type alone decides", result.call_type_alone),
    ):
        print(f"  {label + ':':<25}{count:5} ({percent(count, texts):.1f}%)")
    top = ", ".join(f"{word} {count}" for word, count in result.gap_words.most_common(TOP_WORDS))
    print(f"  words in texts where nothing fired (texts holding each): {top or '-'}\n")


# --- qualifiers inside call types --------------------------------------------------------------

WEAPON_CODES = frozenset({"weapon", "weapon_brandished", "weapon_used"})
HARM_CODES = frozenset({"violence", "violent_behavior"})
CRIME_CODES = frozenset({"crime_in_progress", "homicide", "violence"})
# What a negated term rules out, read from the call-type string itself, not from the lexicon.
NEGATED_TERMS: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(r"SHOOTINGS?|SHOTS?"), frozenset({"shots_fired", "person_shot_or_stabbed"})),
    (re.compile(r"THREATS?|THRTS?"), frozenset({"threat_to_others"})),
    (re.compile(r"ASSAULTS?|ASLT"), frozenset({"violence"})),
    (re.compile(r"VIOLEN\w*|VIOL"), HARM_CODES),
    (re.compile(r"WEAPONS?|WEAPN|WEAP|WEA|WPNS?|WP|ARMED"), WEAPON_CODES),
    (
        re.compile(r"INJUR\w*|INJ"),
        frozenset({"injury", "bleeding", "penetrating_wound", "person_shot_or_stabbed"}),
    ),
    (re.compile(r"DEATHS?|DEAD"), frozenset({"death_investigation", "possible_death", "homicide"})),
    (re.compile(r"OFFENSES?|CRIM\w*"), CRIME_CODES),
    (re.compile(r"DIST\w*"), frozenset({"verbal_aggression"})),
    (re.compile(r"DV|DOMESTIC"), frozenset({"domestic_disturbance"})),
    (re.compile(r"DWI|DUI|INTOX\w*"), frozenset({"intoxication"})),
    (re.compile(r"WELFARE"), frozenset({"welfare_concern"})),
    (re.compile(r"KIDNAP\w*"), frozenset({"hostage"})),
    (re.compile(r"URG\w*|EMERG\w*|EM"), frozenset({"officer_needs_help"})),  # "NON-URGENT", "NON EM..."
]
# Words that qualify the whole call type: a verbal dispute has no physical harm; a past event
# is over, so nothing is in progress.
QUALIFIER_WORDS: list[tuple[re.Pattern[str], frozenset[str]]] = [
    (re.compile(r"\bVERBAL\b"), HARM_CODES),
    (
        re.compile(r"\bPA?ST\b"),
        frozenset(
            {
                "crime_in_progress",
                "active_assailant",
                "shots_fired",
                "hostage",
                "barricade",
                "officer_needs_help",
            }
        ),
    ),
]
# "NO", "NOT", "NON-", "W/O", "WITHOUT" start a negated list; "WITH OR W/O" negates nothing.
NEGATOR = re.compile(
    r"(?<!WITH OR )(?:\b(?:NO(?:\s+KNOWN)?|NOT|W/OUT|W/O|WITHOUT)\b|\bNON(?=[-\sA-Z]))[-\s]*"
)
LIST_END = re.compile(r"[().]|\s-|-\s")
LIST_ITEM = re.compile(r"(?:^|/|,|&|\bOR\b|\bAND\b)\s*([A-Z]+)")  # the first word of each item


@dataclass(frozen=True)
class NegatedTerm:
    """A known term heading a negated list item: where it starts, the phrase, what it rules out."""

    start: int
    phrase: str
    pattern: re.Pattern[str]
    codes: frozenset[str]


def _negated_terms(text: str) -> list[NegatedTerm]:
    found: list[NegatedTerm] = []
    for negator in NEGATOR.finditer(text):
        end = LIST_END.search(text, negator.end())
        segment = text[negator.end() : end.start() if end else len(text)]
        for item in LIST_ITEM.finditer(segment):
            word = item.group(1)
            for pattern, codes in NEGATED_TERMS:
                if pattern.fullmatch(word):
                    start = negator.end() + item.start(1)
                    phrase = text[negator.start() : start + len(word)]  # "NO THRTS/ASLT"
                    found.append(NegatedTerm(start, phrase, pattern, codes))
                    break
    return found


def negated_codes(call_type: str) -> dict[str, str]:
    """Indicator codes the call type's own qualifiers rule out, each with the phrase that does.

    "ASLT - WITH OR W/O WPNS (NO SHOOTINGS)" -> shots_fired and person_shot_or_stabbed by "NO
    SHOOTINGS"; the weapon stays open. A term the string also states outside a negated list
    ("NON INJ ... OR AFTER FACT INJ") is ambiguous and rules nothing out.
    """
    text = call_type.upper().replace("_", " ")  # "*Robbery_Past", "127B_Suicide Threat"
    terms = _negated_terms(text)
    negated_at = {term.start for term in terms}
    negated: dict[str, str] = {}
    for term in terms:
        stated = re.finditer(rf"\b(?:{term.pattern.pattern})\b", text)
        if all(match.start() in negated_at for match in stated):
            negated.update(dict.fromkeys(term.codes, term.phrase))
    for pattern, codes in QUALIFIER_WORDS:
        match = pattern.search(text)
        if match:
            negated.update(dict.fromkeys(codes, match.group()))
    return negated


def qualifier_conflicts(decided: list[tuple[Item, TriageDecision]]) -> tuple[int, list[str]]:
    """Call types carrying a qualifier, and those whose decision fires a code it negates."""
    qualified = 0
    conflicts: list[str] = []
    for (_narrative, call_type), decision in decided:
        negated = negated_codes(call_type or "")
        if not negated:
            continue
        qualified += 1
        fired = sorted({i.code for i in decision.indicators if i.code in negated})
        if fired:
            reasons = ", ".join(f"{code} (negated by '{negated[code]}')" for code in fired)
            conflicts.append(f"{call_type}: {reasons}")
    return qualified, conflicts


def report_qualifiers(source: RealSource, result: Survey, failures: list[str]) -> None:
    qualified, conflicts = qualifier_conflicts(result.decided)
    if not qualified:
        return
    print(
        f"{source.name}: qualifier check, {len(conflicts)} of {qualified} qualified call types "
        "fire an indicator their own qualifier negates"
    )
    for conflict in conflicts:
        print(f"    {conflict}")
    print()
    if conflicts:
        failures.append(
            f"{source.name}: {len(conflicts)} call types fire an indicator their qualifier negates"
        )


def report_real_sources(sources: list[RealSource], policy: Policy, failures: list[str]) -> None:
    surveyed: list[tuple[RealSource, Survey]] = []
    for source in sources:
        if not source.path.exists():
            print(f"{source.name}: {source.path} is absent, section skipped (use --data-dir DIR)\n")
            continue
        rows = read_csv(source.path)
        result = survey(rows, source.items(rows), policy)
        print_survey(source, result)
        surveyed.append((source, result))
    for source, result in surveyed:
        report_qualifiers(source, result, failures)


# --- the report ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--data-dir", type=Path, help="read the data sets from this folder (dev/, field/, real/) instead"
    )
    args = parser.parse_args(argv)
    paths = data_paths(args.data_dir)
    policy = PolicyStore().current
    failures: list[str] = []

    print(f"Triage evaluation, policy {policy.version} ({policy.source})\n")
    scores = report_labelled(labelled_sets(paths), policy, failures)
    fairness = report_fairness(paths, policy, failures)
    print_per_language(scores, fairness)
    report_uncovered(paths.uncovered, policy, failures)
    report_call_type_categories(paths.vera, policy, failures)
    report_real_sources(real_sources(paths), policy, failures)

    if failures:
        print("FAIL (targets not met): " + "; ".join(failures))
        return 1
    print("PASS: every quality target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
