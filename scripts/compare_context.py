"""Negation and history scoping: the triage engine's own rules against medspaCy's ConText.

The engine finds indicator phrases and then drops those a negation, a post-posed negation, a
past-tense cue or list inheritance takes out. This script feeds the very same phrase spans to
medspaCy's ConText as target entities and compares the two verdicts (removed or kept) three ways:

1. per indicator, on hand-labelled sentences kept below as data (``SENTENCES``);
2. per call, on the labelled calls of ``DIR/field/calls.jsonl`` and ``DIR/dev/calls.jsonl``: the
   engine's own decision rules are rerun with ConText's verdicts in place of its own, and the
   route (and every expected field) is compared with the label;
3. latency per call: ConText alone (tokenise, split sentences, scope) against the engine's
   whole ``classify()``, medians over repeated runs in the same process.

medspaCy is not a dependency of the project: run it in a throw-away environment, from the
repository root, with either of

    python3 -m uv run --no-sync --with medspacy --with 'numpy<2' python scripts/compare_context.py
    PYTHONPATH=shared/src:services/triage/src /tmp/ctxvenv/bin/python scripts/compare_context.py

(the second after ``python3 -m venv /tmp/ctxvenv && /tmp/ctxvenv/bin/pip install medspacy pydantic``).
``numpy<2`` because uv otherwise pairs spaCy 3.7's thinc wheel with a numpy it was not built for.
ConText runs on a blank English spaCy pipeline: no model is downloaded. Options: ``--shared DIR``
(a data folder laid out as ``dev/`` and ``field/``; default: the copies in ``tests/data``),
``--repeats N`` (timed passes, default 7), ``--no-latency``,
``--details`` (list each disagreement). Output names calls by id and indicators by code; call
narratives are never printed. Exits 2 with a message when medspaCy is not installed.

How a ConText verdict is read: a target is removed when it is negated and not also uncertain
(``POSSIBLE_EXISTENCE`` keeps it, as the engine's uncertainty cues do), or when it is historical
and its code is not itself a history (``history_of_violence``). ``is_hypothetical`` ("if",
"should he") and ``is_family`` remove nothing: a conditional threat is still a threat, and a
relative is often the person the call is about.
"""

from __future__ import annotations

import argparse
import importlib
import json
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from triage.policy import Policy, classify, default_policy
from triage.policy import engine as eng
from triage.policy.text import Prepared, neutralise, prepare

ROOT = Path(__file__).resolve().parent.parent
# Route severity: a lower number than the label's sends less than the call needs.
SEVERITY = {"clinician_only": 0, "co_response": 1, "police": 2}
FIELDS = ["route", "threat_level", "priority", "ems_required", "needs_review", "clinician_followup"]

# A verdict function: (original narrative, targets as (code, start, end) in it) -> the reason
# each target is removed ("negation" / "past") or None when it counts.
Target = tuple[str, int, int]
Verdicts = Callable[[str, list[Target]], list[str | None]]


# --- Hand-labelled sentences ------------------------------------------------------------------
# (id, phenomenon, sentence, {phrase in the sentence: True if it must be removed}).
# A phrase labels every engine hit that overlaps its first occurrence in the sentence.
SENTENCES: list[tuple[str, str, str, dict[str, bool]]] = [
    ("s01", "pre-negation", "Caller denies any weapons in the home.", {"weapons": True}),
    ("s02", "pre-negation", "Pt is not suicidal.", {"suicidal": True}),
    ("s03", "pre-negation", "He never hit anyone.", {"hit anyone": True}),
    ("s04", "pre-negation", "Nobody was stabbed.", {"stabbed": True}),
    ("s05", "pre-negation", "Pt is no longer suicidal.", {"suicidal": True}),
    ("s06", "pre-negation", "Denies access to firearms.", {"firearms": True}),
    ("s07", "pre-negation", "Wife states he is not armed and not violent.", {"armed": True, "violent": True}),
    ("s08", "pre-negation", "He says he is not going to hurt anyone.", {"hurt anyone": True}),
    ("s09", "pre-negation", "No history of violence.", {"history of violence": True}),
    ("s10", "post-posed", "SI: denied. HI: denied.", {"SI": True, "HI": True}),
    ("s11", "post-posed", "Weapons: none. Pt crying and yelling.", {"Weapons": True, "crying": False}),
    ("s12", "post-posed", "Homicidal ideation - negative", {"Homicidal ideation": True}),
    (
        "s13",
        "post-posed",
        "Overdose was ruled out by EMS, pt is agitated.",
        {"Overdose": True, "agitated": False},
    ),
    (
        "s14",
        "post-posed",
        "Gun - negative, knife - negative, pt yelling threats.",
        {"Gun": True, "knife": True, "threats": False},
    ),
    (
        "s15",
        "post-posed",
        "Thoughts of self-harm: denied. Hearing voices.",
        {"self-harm": True, "voices": False},
    ),
    (
        "s16",
        "list",
        "Pt denies suicidal thoughts, homicidal thoughts, or hallucinations.",
        {"suicidal thoughts": True, "homicidal thoughts": True, "hallucinations": True},
    ),
    ("s17", "list", "No knife, gun or bat seen.", {"knife": True, "gun": True, "bat": True}),
    ("s18", "list", "Wife states he is not armed or violent.", {"armed": True, "violent": True}),
    ("s19", "scope", "Denies SI but has a knife in his hand.", {"SI": True, "knife": False}),
    (
        "s20",
        "scope",
        "No weapons; he is threatening to shoot his neighbor.",
        {"weapons": True, "shoot": False},
    ),
    ("s21", "scope", "He has no gun. He says he will stab his wife.", {"gun": True, "stab": False}),
    (
        "s22",
        "scope",
        "No gun in the house, he is talking about killing himself.",
        {"gun": True, "killing": False},
    ),
    ("s23", "scope", "Denies drinking; appears intoxicated.", {"drinking": True, "intoxicated": False}),
    (
        "s24",
        "scope",
        "No weapons seen, but subject threatening to kill his family.",
        {"weapons": True, "kill": False},
    ),
    ("s25", "scope", "Neighbor heard shots fired, no one injured.", {"shots fired": False, "injured": True}),
    ("s26", "scope", "Pt off meds, not eating, hearing voices.", {"off meds": False, "voices": False}),
    ("s45", "scope", "NO WEAPONS SEEN, MALE THREATENING TO STAB HIS WIFE", {"WEAPONS": True, "STAB": False}),
    ("s46", "scope", "Calm, no weapons, talking about killing himself.", {"weapons": True, "killing": False}),
    (
        "s27",
        "pseudo-negation",
        "She is not only suicidal but also has a gun.",
        {"suicidal": False, "gun": False},
    ),
    ("s28", "pseudo-negation", "Not just sad, he is talking about suicide.", {"suicide": False}),
    ("s29", "pseudo-negation", "He won't stop screaming at the neighbors.", {"screaming": False}),
    ("s30", "pseudo-negation", "Pt not breathing.", {"not breathing": False}),
    ("s31", "double negation", "He doesn't trust himself not to hurt himself.", {"hurt himself": False}),
    ("s32", "double negation", "She can't promise she won't cut herself.", {"cut herself": False}),
    (
        "s33",
        "double negation",
        "He isn't sure he can stop himself from harming himself.",
        {"harming himself": False},
    ),
    ("s34", "uncertainty", "Might have a gun in the car.", {"gun": False}),
    ("s35", "uncertainty", "Unknown if armed.", {"armed": False}),
    ("s36", "uncertainty", "Not sure whether he has a knife.", {"knife": False}),
    ("s37", "uncertainty", "Caller is unsure if he overdosed.", {"overdosed": False}),
    ("s38", "uncertainty", "He might kill himself tonight.", {"kill himself": False}),
    ("s39", "history", "Attempted suicide years ago, currently calm.", {"suicide": True}),
    (
        "s40",
        "history",
        "History of overdose, tonight he is screaming at neighbors.",
        {"overdose": True, "screaming": False},
    ),
    ("s41", "history", "He used to hear voices.", {"hear voices": True}),
    (
        "s42",
        "history",
        "She was assaulted last year, today she is suicidal.",
        {"assaulted": True, "suicidal": False},
    ),
    ("s43", "history", "Pt has a history of violence.", {"history of violence": False}),
    ("s44", "plain", "Man yelling and waving a knife.", {"knife": False}),
    # Written after the rules above were settled, to check neither side was fitted to s01-s46.
    (
        "h01",
        "scope",
        "RP states subj has no firearms but keeps a machete under the bed.",
        {"firearms": True, "machete": False},
    ),
    (
        "h02",
        "list",
        "Pt denied any SI or HI to the nurse, now screaming he will kill staff.",
        {"SI": True, "HI": True, "kill": False},
    ),
    ("h03", "post-posed", "Knife: none seen. Pt hallucinating.", {"Knife": True, "hallucinating": False}),
    (
        "h04",
        "post-posed",
        "Suicidal ideation was denied; pt is intoxicated.",
        {"Suicidal ideation": True, "intoxicated": False},
    ),
    (
        "h05",
        "list",
        "He is not armed, not suicidal, just very confused.",
        {"armed": True, "suicidal": True, "confused": False},
    ),
    ("h06", "uncertainty", "Caller can't say whether he still has the pistol.", {"pistol": False}),
    ("h07", "history", "Overdosed twice last year, currently sober and calm.", {"Overdosed": True}),
    ("h08", "pseudo-negation", "Subject never stopped yelling at officers.", {"yelling": False}),
    (
        "h09",
        "scope",
        "Wife says he won't hurt anyone, he just wants to die.",
        {"hurt anyone": True, "wants to die": False},
    ),
    ("h10", "post-posed", "NEG SI, NEG HI, PT OFF MEDS 3 DAYS", {"SI": True, "HI": True, "OFF MEDS": False}),
    (
        "h11",
        "scope",
        "No shots fired; victim was stabbed in the arm.",
        {"shots fired": True, "stabbed": False},
    ),
    ("h12", "uncertainty", "Unclear if she swallowed any pills.", {"swallowed": False}),
]


# --- medspaCy ConText -------------------------------------------------------------------------
def _load_medspacy() -> tuple[Any, Any]:
    """The ``spacy`` module and medspaCy's ``ConTextRule`` class; exit 2 when they are missing."""
    try:
        spacy = importlib.import_module("spacy")
        importlib.import_module("medspacy")  # registers the medspacy_* pipeline factories
        context_module = importlib.import_module("medspacy.context")
    except ImportError:
        print(
            "medspacy is not installed in this environment. Run from the repository root:\n    python3 -m uv"
            " run --no-sync --with medspacy --with 'numpy<2' python scripts/compare_context.py",
            file=sys.stderr,
        )
        sys.exit(2)
    return spacy, context_module.ConTextRule


_NEG = {"LOWER": {"IN": ["n't", "not", "never", "no"]}}
# "is not only", "isn't sure": the auxiliary joins the pseudo match, so the default "is not" is pruned.
_AUX = {
    "LOWER": {"IN": ["is", "was", "are", "were", "does", "do", "did", "ca", "can", "wo", "has", "have"]},
    "OP": "?",
}
_DASH = {"TEXT": {"REGEX": r"^(?:[:=?]|-+)$"}, "OP": "+"}
_AGO_UNITS = ["year", "years", "month", "months", "week", "weeks", "decade", "decades", "yrs", "yr"]


def dispatch_rules(rule: Any, *, comma_ends_scope: bool) -> list[Any]:
    """ConText rules for dispatch wording, added to medspaCy's defaults.

    Shapes: ``rule`` is medspaCy's ``ConTextRule`` class; returns a list of its instances.
    Covers CAD shorthand, post-posed negation after ':' or '-', "was ruled out", uncertainty
    (kept), history, pseudo- and double negation and clause-ending words.
    """
    neg, possible, hist = "NEGATED_EXISTENCE", "POSSIBLE_EXISTENCE", "HISTORICAL"
    rules = [
        # Pre-posed negation the defaults lack.
        rule("never", neg, direction="FORWARD"),
        rule("neither", neg, direction="FORWARD"),
        rule("nor", neg, direction="FORWARD"),
        rule("none of", neg, direction="FORWARD"),
        rule("nobody", neg, direction="FORWARD", pattern=[{"LOWER": {"IN": ["nobody", "noone"]}}]),
        rule("no one", neg, direction="FORWARD"),
        rule("nothing", neg, direction="FORWARD"),
        rule("w/o", neg, direction="FORWARD", pattern=[{"LOWER": "w"}, {"TEXT": "/"}, {"LOWER": "o"}]),
        rule("w/o", neg, direction="FORWARD", pattern=[{"LOWER": {"IN": ["w/o", "wo/"]}}]),
        rule("neg", neg, direction="FORWARD", pattern=[{"LOWER": {"IN": ["neg", "negative"]}}]),
        rule("no longer", neg, direction="FORWARD"),
        # Post-posed: "SI: denied", "Weapons: none", "HI - negative", scoped to the label before it.
        rule(
            ": denied",
            neg,
            direction="BACKWARD",
            max_scope=5,
            pattern=[
                _DASH,
                {
                    "LOWER": {
                        "IN": ["denied", "denies", "negative", "neg", "none", "no", "nil", "absent", "n"]
                    }
                },
            ],
        ),
        rule(
            "was ruled out",
            neg,
            direction="BACKWARD",
            pattern=[
                {"LOWER": {"IN": ["was", "were", "is", "been", "being"]}},
                {"LOWER": "ruled"},
                {"LOWER": "out"},
            ],
        ),
        rule(
            "not seen",
            neg,
            direction="BACKWARD",
            max_scope=5,
            pattern=[
                _NEG,
                {"LOWER": {"IN": ["seen", "found", "present", "involved", "observed", "reported"]}},
            ],
        ),
        # Uncertainty: keeps an indicator even where a negation also reaches it.
        rule(
            "might",
            possible,
            direction="FORWARD",
            pattern=[
                {
                    "LOWER": {
                        "IN": [
                            "might",
                            "may",
                            "maybe",
                            "could",
                            "perhaps",
                            "possibly",
                            "poss",
                            "probably",
                            "likely",
                            "unknown",
                            "unk",
                            "unsure",
                            "uncertain",
                            "unclear",
                            "unconfirmed",
                            "whether",
                            "believes",
                            "believe",
                            "thinks",
                            "think",
                            "suspects",
                            "suspected",
                        ]
                    }
                }
            ],
        ),
        rule(
            "not sure",
            possible,
            direction="FORWARD",
            pattern=[_NEG, {"LOWER": {"IN": ["sure", "certain", "clear", "known", "confirmed"]}}],
        ),
        rule(
            "doesn't know",
            possible,
            direction="FORWARD",
            pattern=[
                _NEG,
                {"LOWER": {"IN": ["know", "knows", "say", "tell", "see", "confirm", "think"]}},
            ],
        ),
        rule("no idea", possible, direction="FORWARD"),
        rule(
            ": unknown",
            possible,
            direction="BACKWARD",
            max_scope=5,
            pattern=[_DASH, {"LOWER": {"IN": ["unknown", "unk", "unsure", "possible", "poss", "?"]}}],
        ),
        # History.
        rule(
            "used to",
            hist,
            direction="FORWARD",
            pattern=[
                {"LOWER": {"IN": ["used", "previous", "previously", "prior", "formerly", "past"]}},
                {"LOWER": "to", "OP": "?"},
            ],
        ),
        rule(
            "years ago",
            hist,
            direction="BACKWARD",
            pattern=[
                {"LIKE_NUM": True, "OP": "?"},
                {"LOWER": {"IN": ["a", "few", "several", "many", "couple", "of"]}, "OP": "*"},
                {"LOWER": {"IN": _AGO_UNITS}},
                {"LOWER": {"IN": ["ago", "back"]}},
            ],
        ),
        rule(
            "last year",
            hist,
            direction="BACKWARD",
            pattern=[
                {"LOWER": {"IN": ["last", "in"]}},
                {"LOWER": {"IN": ["year", "month", "summer", "winter", "spring", "fall", "past"]}},
            ],
        ),
        rule(
            "in 2019",
            hist,
            direction="BIDIRECTIONAL",
            pattern=[{"LOWER": "in"}, {"TEXT": {"REGEX": r"^(?:19|20)\d\d$"}}],
        ),
        rule(
            "as a child",
            hist,
            direction="BIDIRECTIONAL",
            pattern=[
                {"LOWER": "as"},
                {"LOWER": "a"},
                {"LOWER": {"IN": ["child", "kid", "teen", "teenager", "youth"]}},
            ],
        ),
        # Pseudo-negation: matches, so the "not"/"no" inside it is pruned, and modifies nothing.
        rule(
            "not only",
            neg,
            direction="PSEUDO",
            pattern=[
                _AUX,
                _NEG,
                {"LOWER": {"IN": ["only", "just", "stop", "stopping", "quit", "help", "even", "wait"]}},
            ],
        ),
        rule("no one else", neg, direction="PSEUDO"),
        # Double negation: a negated assurance or self-control, then a negated harm, is a risk.
        rule(
            "can't promise she won't",
            neg,
            direction="PSEUDO",
            pattern=[
                _AUX,
                _NEG,
                {"LOWER": {"IN": ["promise", "guarantee", "swear", "trust", "sure", "say", "certain"]}},
                {"IS_PUNCT": False, "OP": "{0,4}"},
                {"LOWER": {"IN": ["n't", "not", "never", "from"]}},
            ],
        ),
        # Clause ends the defaults lack ("but" and "because" are in them).
        rule(
            ";",
            "TERMINATE",
            direction="TERMINATE",
            pattern=[
                {
                    "LOWER": {
                        "IN": [
                            ";",
                            "however",
                            "although",
                            "though",
                            "except",
                            "yet",
                            "whereas",
                            "while",
                            "then",
                            "now",
                            "currently",
                            "today",
                            "tonight",
                            "says",
                            "states",
                            "reports",
                            "endorses",
                            "admits",
                            "advises",
                            "adv",
                        ]
                    }
                }
            ],
        ),
        rule("newline", "TERMINATE", direction="TERMINATE", pattern=[{"TEXT": {"REGEX": r"\n"}}]),
    ]
    if comma_ends_scope:
        rules.append(rule(",", "TERMINATE", direction="TERMINATE", pattern=[{"TEXT": ","}]))
    return rules


class ConTextVerdicts:
    """medspaCy ConText on a blank English pipeline, with the engine's spans as its targets.

    ``rules``: ``"default"`` (medspaCy's rules alone), ``"dispatch"`` (defaults plus
    ``dispatch_rules``) or ``"dispatch+comma"`` (also a comma ends every scope).
    """

    def __init__(self, policy: Policy, rules: str) -> None:
        spacy, rule = _load_medspacy()
        self.policy = policy
        self.nlp = spacy.blank("en")
        if rules != "default":
            # Numbered protocol answers run into their first word: "2.No weapons" -> "2 . No".
            infixes = [*self.nlp.Defaults.infixes, r"(?<=[0-9])\.(?=[A-Za-z])"]
            self.nlp.tokenizer.infix_finditer = spacy.util.compile_infix_regex(infixes).finditer
        self.nlp.add_pipe("sentencizer")
        context = self.nlp.add_pipe(
            "medspacy_context",
            config={
                "rules": None,
                "input_span_type": "group",
                "span_group_name": "targets",
                # A cue inside an indicator phrase ("isn't worth living", "not breathing") is part of it.
                "prune_on_target_overlap": True,
            },
        )
        defaults = rule.from_json(context.DEFAULT_RULES_FILEPATH)
        if rules == "default":
            context.add(defaults)
        else:
            # The default ": none" / ": no" reach back to the sentence start; ours stop at the label.
            context.add([r for r in defaults if r.literal not in (": none", ": no")])
            context.add(dispatch_rules(rule, comma_ends_scope=rules == "dispatch+comma"))
        self.pipes = [proc for _, proc in self.nlp.pipeline]

    def __call__(self, narrative: str, targets: list[Target]) -> list[str | None]:
        doc = self.nlp.make_doc(narrative)
        spans = [doc.char_span(a, b, label=code, alignment_mode="expand") for code, a, b in targets]
        doc.spans["targets"] = [s for s in spans if s is not None]
        for proc in self.pipes:
            doc = proc(doc)
        verdicts: list[str | None] = []
        for span in spans:
            if span is None:
                verdicts.append(None)
                continue
            historical_code = "historical" in self.policy.definitions[span.label_].tags
            if span._.is_negated and not span._.is_uncertain:
                verdicts.append("negation")
            elif span._.is_historical and not historical_code:
                verdicts.append("past")
            else:
                verdicts.append(None)
        return verdicts


# --- The engine, with a pluggable verdict -----------------------------------------------------
@dataclass(frozen=True, slots=True)
class Located:
    """An engine hit with its span in the original narrative."""

    hit: eng.Hit
    start: int
    end: int


def engine_hits(policy: Policy, narrative: str) -> tuple[list[Located], bool, Any, Prepared, str]:
    """The engine's narrative hits (own verdicts in ``removed_by``), vague flag, scope, text."""
    prepared = prepare(narrative, policy)
    text = neutralise(prepared.text, policy)
    hits, vague, scope = eng._narrative_hits(policy, text)
    located = [Located(h, *prepared.original_span(h.start, h.end)) for h in hits]
    return located, vague, scope, prepared, text


def decide(
    policy: Policy, narrative: str, call_type: str | None, verdicts: Verdicts | None
) -> dict[str, Any]:
    """``classify``'s decision with the narrative verdicts from ``verdicts`` (None: the engine's)."""
    decision = classify(narrative, call_type, policy=policy, scoping=verdicts)
    return {f: getattr(getattr(decision, f), "value", getattr(decision, f)) for f in FIELDS}


# --- Scoring ----------------------------------------------------------------------------------
def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


@dataclass
class Tally:
    right: int = 0
    total: int = 0

    def add(self, ok: bool) -> None:
        self.right += ok
        self.total += 1

    def __str__(self) -> str:
        share = 100 * self.right / self.total if self.total else 0.0
        return f"{self.right}/{self.total} ({share:.0f}%)"


def score_sentences(policy: Policy, systems: dict[str, Verdicts | None], details: bool) -> None:
    """Per-indicator removed/kept accuracy of each system on ``SENTENCES``, by phenomenon."""
    overall = {name: Tally() for name in systems}
    # Removing a real indicator can under-escalate (unsafe); keeping a negated one over-responds.
    dropped = dict.fromkeys(systems, 0)
    kept = dict.fromkeys(systems, 0)
    by_kind: dict[tuple[str, str], Tally] = {}
    unlabelled = missing = 0
    wrong: list[str] = []
    for sid, kind, sentence, gold in SENTENCES:
        located = engine_hits(policy, sentence)[0]
        targets = [(x.hit.code, x.start, x.end) for x in located]
        verdicts = {
            name: [x.hit.removed_by for x in located] if fn is None else fn(sentence, targets)
            for name, fn in systems.items()
        }
        labelled_hits: set[int] = set()
        for phrase, removed in gold.items():
            at = sentence.lower().find(phrase.lower())
            assert at >= 0, f"{sid}: gold phrase not in its sentence"
            idx = [i for i, x in enumerate(located) if x.start < at + len(phrase) and at < x.end]
            if not idx:
                missing += 1
                wrong.append(f"  {sid} [{kind}] '{phrase}': the engine's matcher finds no indicator")
                continue
            labelled_hits.update(idx)
            for name in systems:
                for i in idx:
                    ok = (verdicts[name][i] is not None) == removed
                    overall[name].add(ok)
                    by_kind.setdefault((name, kind), Tally()).add(ok)
                    if not ok and removed:
                        kept[name] += 1
                    elif not ok:
                        dropped[name] += 1
                    if not ok:
                        said = verdicts[name][i] or "kept"
                        wrong.append(f"  {sid} [{kind}] {name}: '{phrase}' ({located[i].hit.code}) -> {said}")
        unlabelled += len(located) - len(labelled_hits)
    print(f"\n== Hand-labelled sentences: {len(SENTENCES)} sentences, per-indicator removed/kept ==")
    kinds = list(dict.fromkeys(k for _, k, _, _ in SENTENCES))
    print(
        f"{'system':16}{'all':>14}{'wrongly removed':>17}{'wrongly kept':>14}"
        + "".join(f"{k[:15]:>17}" for k in kinds)
    )
    for name in systems:
        row = "".join(f"{str(by_kind.get((name, k), Tally())):>17}" for k in kinds)
        print(f"{name:16}{str(overall[name]):>14}{dropped[name]:>17}{kept[name]:>14}{row}")
    print(f"(gold phrases the matcher misses: {missing}; hits with no gold label, unscored: {unlabelled})")
    if details:
        print("\n".join(wrong))


def score_calls(
    policy: Policy, paths: list[Path], systems: dict[str, Verdicts | None], details: bool
) -> list[dict[str, Any]]:
    """Route accuracy and all-expected-fields accuracy per data set, system by system."""
    everything: list[dict[str, Any]] = []
    for path in paths:
        calls = list(read_jsonl(path))
        everything += calls
        route = {n: Tally() for n in systems}
        fields = {n: Tally() for n in systems}
        neg_route = {n: Tally() for n in systems}
        under = dict.fromkeys(systems, 0)
        diffs: list[str] = []
        for call in calls:
            expected = call["expected"]
            scoped = any(
                w in call.get("feature", "")
                for w in ("negat", "post-posed", "ruled out", "historical", "scope", "UNK", "NEG", "NO ")
            )
            answers = {
                n: decide(policy, call["narrative"], call.get("call_type"), fn) for n, fn in systems.items()
            }
            for name, got in answers.items():
                route[name].add(got["route"] == expected["route"])
                under[name] += SEVERITY[got["route"]] < SEVERITY[expected["route"]]
                fields[name].add(all(got[f] == expected[f] for f in expected))
                if scoped:
                    neg_route[name].add(got["route"] == expected["route"])
            routes = {n: a["route"] for n, a in answers.items()}
            if len(set(routes.values())) > 1:
                marks = ", ".join(
                    f"{n}={r}{'' if r == expected['route'] else '(x)'}" for n, r in routes.items()
                )
                diffs.append(f"  {call['id']}: expected {expected['route']}; {marks}")
        label = path.parent.name
        print(f"\n== {label}/{path.name}: {len(calls)} calls ==")
        print(
            f"{'system':16}{'route':>14}{'all fields':>14}"
            f"{'route, scope-feature calls':>30}{'under-escalated':>17}"
        )
        for name in systems:
            print(
                f"{name:16}{str(route[name]):>14}{str(fields[name]):>14}{str(neg_route[name]):>30}{under[name]:>17}"
            )
        print(f"calls whose route differs between systems: {len(diffs)}")
        if details:
            print("\n".join(diffs))
    return everything


def _median_us(run: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1e6


def latency(policy: Policy, calls: list[dict[str, Any]], context: ConTextVerdicts, repeats: int) -> None:
    """Median microseconds per call: ``classify`` whole, ConText alone, and their sum in one pass."""
    texts = [c["narrative"] for c in calls]
    jobs = []
    for call in calls:
        located = engine_hits(policy, call["narrative"])[0]
        jobs.append((call["narrative"], [(x.hit.code, x.start, x.end) for x in located]))

    def run_classify() -> None:
        for call in calls:
            classify(call["narrative"], call.get("call_type"), policy=policy)

    def run_context() -> None:
        for narrative, targets in jobs:
            context(narrative, targets)

    def run_hybrid() -> None:
        for call in calls:
            decide(policy, call["narrative"], call.get("call_type"), context)

    for warm in (run_classify, run_context, run_hybrid):  # caches and lazy imports
        warm()
    per_call = {
        "classify()": _median_us(run_classify, repeats) / len(calls),
        "ConText only": _median_us(run_context, repeats) / len(calls),
        "hybrid decide": _median_us(run_hybrid, repeats) / len(calls),
    }
    chars = statistics.mean(len(t) for t in texts)
    print(f"\n== Latency: {len(calls)} calls (mean {chars:.0f} chars), median of {repeats} passes ==")
    for name, us in per_call.items():
        print(f"{name:16}{us:10.1f} us/call")
    ratio = per_call["ConText only"] / per_call["classify()"]
    print(f"ConText alone / classify(): {ratio:.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0] if __doc__ else None)
    parser.add_argument("--shared", type=Path, default=None, help="a data folder with dev/ and field/")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--no-latency", action="store_true")
    parser.add_argument("--details", action="store_true")
    args = parser.parse_args()

    _load_medspacy()
    policy = default_policy()
    commit = subprocess.run(  # noqa: S603
        ["git", "-C", str(ROOT), "log", "-1", "--format=%h"],  # noqa: S607
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    dirty = (
        "+dirty"
        if subprocess.run(  # noqa: S603
            ["git", "-C", str(ROOT), "diff", "--quiet", "--", "services/triage"],  # noqa: S607
            check=False,
        ).returncode
        else ""
    )
    medspacy_version = importlib.import_module("medspacy").__version__
    print(
        f"commit {commit}{dirty}, {datetime.now(UTC):%Y-%m-%d %H:%M} UTC, policy {policy.version}, "
        f"medspacy {medspacy_version}"
    )

    context = ConTextVerdicts(policy, "dispatch")
    systems: dict[str, Verdicts | None] = {
        "engine": None,
        "ctx default": ConTextVerdicts(policy, "default"),
        "ctx dispatch": context,
        "ctx disp+comma": ConTextVerdicts(policy, "dispatch+comma"),
    }
    score_sentences(policy, systems, args.details)
    data = ROOT / "tests" / "data"
    paths = (
        [args.shared / "field" / "calls.jsonl", args.shared / "dev" / "calls.jsonl"]
        if args.shared
        else [data / "field_calls.jsonl", data / "dev_calls.jsonl"]
    )
    calls = score_calls(policy, paths, systems, args.details)
    if not args.no_latency:
        latency(policy, calls, context, args.repeats)


if __name__ == "__main__":
    main()
