"""Triage throughput (``make bench-triage``): narratives per second on one core, engine vs a naive baseline.

The baseline is what one would write first: lower-case the text and run ``re.search`` once per
phrase pattern of the same lexicon. Both run in this process, one after the other, over the
dev calls and fairness variants; each figure is the median of ``--repeat`` timed runs.

Per-call latency (µs, median and 95th percentile) is timed one call at a time over the English
corpus and the Spanish dev calls, with the language step (``triage.policy.language.identify``)
included, and that step is also timed alone so its share is visible.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import sys
import time
from collections.abc import Callable
from pathlib import Path

from triage.policy import Policy, PolicyStore, classify
from triage.policy.language import identify

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def corpus() -> list[str]:
    """Dev-call narratives plus every fairness variant: realistic lengths and wording."""
    texts: list[str] = []
    with (DATA / "dev_calls.jsonl").open(encoding="utf-8") as handle:
        texts += [json.loads(line)["narrative"] for line in handle if line.strip()]
    with (DATA / "fairness.jsonl").open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                template = json.loads(line)
                texts += [
                    re.sub(r"\s+", " ", template["template"].format(d=d)) for d in template["descriptors"]
                ]
    return [t for t in texts if t]


def spanish_corpus() -> list[str]:
    """The Spanish and code-switched dev-call narratives."""
    with (DATA / "dev_calls_es.jsonl").open(encoding="utf-8") as handle:
        return [json.loads(line)["narrative"] for line in handle if line.strip()]


def latencies_us(work: Callable[[str], object], texts: list[str], repeat: int) -> list[float]:
    """Wall time of each single call, in microseconds, over ``repeat`` passes of ``texts``."""
    times: list[float] = []
    for _ in range(repeat):
        for text in texts:
            start = time.perf_counter_ns()
            work(text)
            times.append((time.perf_counter_ns() - start) / 1000)
    return times


def median_p95(times: list[float]) -> str:
    """``median / p95`` of ``times`` (µs), formatted."""
    p95 = statistics.quantiles(times, n=20)[-1]
    return f"{statistics.median(times):>8,.0f} / {p95:>8,.0f} µs"


def naive(policy: Policy) -> Callable[[str], list[str]]:
    """One ``re.search`` per phrase pattern: the baseline the engine is measured against."""
    patterns = policy.phrase_patterns

    def run(text: str) -> list[str]:
        lowered = text.lower()
        return [code for code, pattern in patterns if pattern.search(lowered)]

    return run


def rate(work: Callable[[str], object], texts: list[str], seconds: float) -> float:
    """Narratives per second over at least ``seconds`` of work."""
    done = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        for text in texts:
            work(text)
        done += len(texts)
    return done / (time.perf_counter() - start)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=1.0, help="time per measurement (default 1)")
    parser.add_argument("--repeat", type=int, default=5, help="measurements per contender (default 5)")
    args = parser.parse_args(argv)
    policy = PolicyStore().current
    texts = corpus()

    def engine(text: str) -> object:
        return classify(text, None, policy=policy)

    baseline = naive(policy)
    engine(texts[0])  # warm caches before timing
    engine_rates = [rate(engine, texts, args.seconds) for _ in range(args.repeat)]
    naive_rates = [rate(baseline, texts, args.seconds) for _ in range(args.repeat)]
    fast, slow = statistics.median(engine_rates), statistics.median(naive_rates)
    print(
        f"policy {policy.version}: {len(policy.phrase_patterns)} phrase patterns, {len(texts)} narratives, "
        f"median of {args.repeat} x {args.seconds:g}s, one core"
    )
    print(f"  engine (full decision)          {fast:>10,.0f} narratives/s")
    print(f"  naive re.search per pattern     {slow:>10,.0f} narratives/s  (matching only)")
    print(f"  ratio                           {fast / slow:>10.1f}x")
    spanish = spanish_corpus()

    def language_step(text: str) -> object:
        return identify(text, policy.languages)

    print(f"per-call latency, median / p95 of {args.repeat} passes:")
    for name, sample in (("English", texts), ("Spanish", spanish)):
        label = f"engine, {name} ({len(sample)} calls)"
        print(f"  {label:<32}{median_p95(latencies_us(engine, sample, args.repeat))}")
    language_times = latencies_us(language_step, texts + spanish, args.repeat)
    print(f"  language step alone (all)       {median_p95(language_times)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
