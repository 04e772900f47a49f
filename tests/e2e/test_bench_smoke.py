"""`make bench` in its quickest mode on the real broker: the report's structure, never its timings."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.stack import ROOT

pytestmark = pytest.mark.e2e

LOW, HIGHER = "20.0", "50.0"


def positive(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and value > 0


@pytest.fixture(scope="module")
def bench(tmp_path_factory: pytest.TempPathFactory, kafka_bootstrap: str) -> tuple[dict[str, Any], str, Path]:
    """One quick run on SQLite at 20 and 50 calls/s: its JSON report, its printed output, its folder."""
    out = tmp_path_factory.mktemp("bench")
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "BENCH_URL")}
    env["KAFKA_BOOTSTRAP_SERVERS"] = kafka_bootstrap
    done = subprocess.run(
        [sys.executable, "-m", "scripts.bench", "--quick", "--rates", "20,50", "--out", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    reports = sorted(out.glob("bench-*.json"))
    assert len(reports) == 1, list(out.iterdir())
    report: dict[str, Any] = json.loads(reports[0].read_text())
    return report, done.stdout, out


def test_report_describes_the_machine_and_the_run(bench: tuple[dict[str, Any], str, Path]) -> None:
    report, _, _ = bench
    assert report["timestamp"]
    assert positive(report["machine"]["cpus"])
    assert report["machine"]["python"] and report["git_commit"]
    assert report["settings"]["rate_limit_per_minute"] == 0
    assert report["settings"]["backends"] == ["sqlite"]
    assert positive(report["generator"]["processes"]) and report["generator"]["kind"]
    assert len(report["runs"]) == 1


def test_every_baseline_figure_is_present_and_positive(bench: tuple[dict[str, Any], str, Path]) -> None:
    baseline = bench[0]["medians"]["baseline"]
    for rate in (LOW, HIGHER):
        figures = baseline["bare_open"][rate]
        assert figures["http_failed"] == 0
        for name in ("posted_per_s", "post_p50_ms", "post_p99_ms"):
            assert positive(figures[name]), (rate, name, figures)
    assert positive(baseline["bare_saturated"]["posted_per_s"])
    relay = baseline["relay"]
    assert relay["received"] == relay["sent"] > 0
    assert positive(relay["msg_per_s"])


def test_every_stack_figure_is_present_and_every_call_is_routed_at_a_low_rate(
    bench: tuple[dict[str, Any], str, Path],
) -> None:
    stack = bench[0]["medians"]["stack"]["sqlite"]
    for rate in (LOW, HIGHER):
        figures = stack["open"][rate]
        for name in ("posted_per_s", "routed_per_s", "post_p50_ms", "routed_p50_ms"):
            assert positive(figures[name]), (rate, name, figures)
    low = stack["open"][LOW]
    assert low["accepted"] == low["routed"] == low["due"] > 0
    assert low["missing"] == 0 and low["http_failed"] == 0
    assert positive(low["routed_p99_ms"]) and low["routed_p99_ms"] >= low["routed_p50_ms"]
    saturated = stack["saturated"]
    assert positive(saturated["routed_per_s"]) and positive(saturated["posted_per_s"])
    assert saturated["double_assigned_units"] == 0


def test_every_ratio_is_given(bench: tuple[dict[str, Any], str, Path]) -> None:
    ratios = bench[0]["ratios"]["sqlite"]
    assert all(positive(v) for v in ratios["open"][LOW].values()), ratios["open"][LOW]
    assert all(positive(v) for v in ratios["saturated"].values()), ratios["saturated"]


def test_output_says_how_it_measured_and_cleans_up(bench: tuple[dict[str, Any], str, Path]) -> None:
    _, stdout, out = bench
    assert "RATE_LIMIT_PER_MINUTE=0" in stdout
    assert "generator:" in stdout and "saturated routed calls/s" in stdout
    assert not list((out / "data").rglob("*.db")), "a stack's databases were left behind"
