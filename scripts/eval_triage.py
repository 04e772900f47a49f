"""Triage quality report (``make eval``): dev calls, fairness set and five-city call types.

Prints the route confusion matrix, field accuracies, unsafe under-escalations, over-policing,
counterfactual invariance and call-type recognition; exits 1 when a Done-when target fails.
Reads the repository's copies in ``tests/data``; ``--shared DIR`` reads ``/work/shared/data``-style
folders instead (``dev/calls.jsonl``, ``dev/fairness.jsonl``, ``real/calltypes/vera-calltypes.csv``).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from dispatch_shared.events import Route, TriageDecision
from triage.policy import Policy, PolicyStore, classify
from triage.policy import invariance_signature as signature

ROOT = Path(__file__).resolve().parent.parent
ROUTES = [Route.CLINICIAN_ONLY.value, Route.CO_RESPONSE.value, Route.POLICE.value]
SEVERITY = {route: rank for rank, route in enumerate(ROUTES)}
FIELDS = ["route", "threat_level", "ems_required", "priority", "needs_review"]
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
PERSON_NOUN = re.compile(
    r"\b(man|woman|son|daughter|brother|sister|teenager|person|neighbor|roommate|husband|"
    r"father|mother|friend|veteran|subject|guy|teen|subj)\b",
    re.IGNORECASE,
)


def data_paths(shared: Path | None) -> tuple[Path, Path, Path]:
    """Where the dev calls, fairness templates and five-city call types are read from."""
    if shared is None:
        data = ROOT / "tests" / "data"
        return data / "dev_calls.jsonl", data / "fairness.jsonl", data / "vera-calltypes.csv"
    return (
        shared / "dev/calls.jsonl",
        shared / "dev/fairness.jsonl",
        shared / "real/calltypes/vera-calltypes.csv",
    )


def read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                yield json.loads(line)


def evaluate_dev(path: Path, policy: Policy) -> dict[str, Any]:
    """Accuracy of each expected field, the route confusion matrix and the unsafe errors."""
    confusion: Counter[tuple[str, str]] = Counter()
    right: Counter[str] = Counter()
    total: Counter[str] = Counter()
    unsafe: list[str] = []
    over_policing: list[str] = []
    misses: list[str] = []
    for call in read_jsonl(path):
        decision = classify(call["narrative"], call.get("call_type"), policy=policy)
        expected = {"needs_review": False, **call["expected"]}
        got = decision.model_dump(mode="json")
        for name in FIELDS:
            if name in expected:
                total[name] += 1
                right[name] += got[name] == expected[name]
                if got[name] != expected[name]:
                    misses.append(f"{call['id']}: {name} {got[name]} (expected {expected[name]})")
        want, route = expected["route"], got["route"]
        confusion[(want, route)] += 1
        if SEVERITY[route] < SEVERITY[want]:
            unsafe.append(call["id"])
        if route == Route.POLICE.value and want == Route.CLINICIAN_ONLY.value:
            over_policing.append(call["id"])
    return {
        "confusion": confusion,
        "right": right,
        "total": total,
        "unsafe": unsafe,
        "over_policing": over_policing,
        "misses": misses,
    }


def evaluate_fairness(fairness: Path, dev: Path, policy: Policy) -> tuple[int, int, int, int]:
    """Invariance on the fairness templates, and on dev calls with descriptors inserted."""
    same = cases = 0
    for template in read_jsonl(fairness):
        variants = [re.sub(r"\s+", " ", template["template"].format(d=d)) for d in template["descriptors"]]
        blank = signature(classify(re.sub(r"\s+", " ", template["template"].format(d="")), policy=policy))
        for text in variants:
            cases += 1
            same += signature(classify(text, policy=policy)) == blank
    dev_same = dev_cases = 0
    for call in read_jsonl(dev):
        base = signature(classify(call["narrative"], call.get("call_type"), policy=policy))
        for descriptor in DESCRIPTOR_SWAPS:
            text = PERSON_NOUN.sub(rf"{descriptor} \g<0>", call["narrative"], count=1)
            dev_cases += 1
            dev_same += signature(classify(text, call.get("call_type"), policy=policy)) == base
    return same, cases, dev_same, dev_cases


def evaluate_call_types(path: Path, policy: Policy) -> dict[str, Any]:
    """Five-city call types: behavioral ones raise a crisis or EMS; violent crime is never clinician-only."""
    with path.open(encoding="utf-8", errors="replace", newline="") as handle:
        rows = list(csv.DictReader(handle))
    behavioral = sorted({r["Field 1"] for r in rows if (r["Category"] or "").strip() == "Behavioral Health"})
    violent = sorted({r["Field 1"] for r in rows if (r["Category"] or "").strip() == "Violent Crime"})
    missed = [c for c in behavioral if not _raises_need(classify("", c, policy=policy))]
    clinician_only = [c for c in violent if classify("", c, policy=policy).route is Route.CLINICIAN_ONLY]
    return {"behavioral": behavioral, "missed": missed, "violent": violent, "clinician_only": clinician_only}


def _raises_need(decision: TriageDecision) -> bool:
    return decision.crisis or decision.ems_required


def percent(part: int, whole: int) -> float:
    return 100.0 * part / whole if whole else 100.0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, help="read datasets from this shared data folder instead")
    args = parser.parse_args(argv)
    dev_path, fairness_path, call_types_path = data_paths(args.shared)
    policy = PolicyStore().current
    failures: list[str] = []

    dev = evaluate_dev(dev_path, policy)
    print(f"Triage evaluation, policy {policy.version} ({policy.source})\n")
    print(f"Dev calls ({dev_path}): route confusion matrix (rows expected, columns decided)")
    width = max(map(len, ROUTES)) + 2
    print(" " * width + "".join(r.rjust(width) for r in ROUTES))
    for want in ROUTES:
        print(want.ljust(width) + "".join(str(dev["confusion"][(want, got)]).rjust(width) for got in ROUTES))
    print()
    for name in FIELDS:
        right, total = dev["right"][name], dev["total"][name]
        print(f"  {name:<14} accuracy {percent(right, total):6.1f}%  ({right}/{total})")
        if right != total:
            failures.append(f"dev {name} accuracy below 100%")
    print(f"  unsafe under-escalations: {len(dev['unsafe'])} {dev['unsafe'] or ''}")
    print(
        f"  over-policing (police where clinician-only was due): {len(dev['over_policing'])} "
        f"{dev['over_policing'] or ''}"
    )
    for miss in dev["misses"]:
        print(f"    miss {miss}")
    if dev["unsafe"]:
        failures.append("unsafe under-escalation on dev calls")

    same, cases, dev_same, dev_cases = evaluate_fairness(fairness_path, dev_path, policy)
    print(
        f"\nFairness set ({fairness_path}): counterfactual invariance "
        f"{percent(same, cases):.1f}% ({same}/{cases} variants equal their blank template)"
    )
    print(
        f"  dev calls with a descriptor inserted: {percent(dev_same, dev_cases):.1f}% "
        f"({dev_same}/{dev_cases})"
    )
    if same != cases or dev_same != dev_cases:
        failures.append("counterfactual invariance below 100%")

    ct = evaluate_call_types(call_types_path, policy)
    recognised = len(ct["behavioral"]) - len(ct["missed"])
    share = percent(recognised, len(ct["behavioral"]))
    print(f"\nFive-city call types ({call_types_path}):")
    print(
        f"  'Behavioral Health' types raising crisis or EMS: {share:.1f}% "
        f"({recognised}/{len(ct['behavioral'])} distinct types)"
    )
    for missed in ct["missed"]:
        print(f"    not recognised: {missed}")
    print(
        f"  'Violent Crime' types routed clinician-only: {len(ct['clinician_only'])} of {len(ct['violent'])} "
        f"{ct['clinician_only'] or ''}"
    )
    if share < 90.0:
        failures.append("fewer than 90% of behavioral call types recognised")
    if ct["clinician_only"]:
        failures.append("a violent-crime call type routed clinician-only")

    print()
    if failures:
        print("FAIL: " + "; ".join(failures))
        return 1
    print("PASS: every Done-when target met")
    return 0


if __name__ == "__main__":
    sys.exit(main())
