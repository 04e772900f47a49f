"""End-to-end benchmark (``make bench``): POST /v1/calls -> routed event, against two baselines.

Measures, each ``--runs`` times (medians reported):

* open loop at fixed offered rates (``--rates``, default 50, 200, 500 calls/s): calls are due on a
  fixed schedule for ``--duration`` s and sent when due whatever earlier calls are doing; latency
  runs from the due time to the ``dispatch.calls.routed.v1`` event for that call id (read with an
  aiokafka consumer). After the schedule, stragglers get at most ``--wait`` s; calls not routed by
  then are counted missing and their latency as unbounded, so p99 shows ">N s" rather than hiding
  them. Each rate reports what was posted and routed per second within the schedule, and the
  backlog (accepted, not yet routed) when it ended.
* saturated throughput: ``--concurrency`` keep-alive clients post back to back; routed events per
  second and intake's accepted POSTs per second over a ``--window`` s window after ``--warmup`` s.
* baselines, in the same run: (1) a bare FastAPI app (``scripts.bench.bare_app``) taking intake's
  request model and doing nothing, served with intake's uvicorn settings and driven by the same
  generator: POST latency at the same rates and saturated POSTs/s; (2) a raw aiokafka two-hop
  relay on the same broker (producer -> A -> consumer+producer -> B -> consumer), msg/s.

Every stack phase runs on a fresh stack (new databases under ``--out``, new topic namespace, rate
limit off), so one phase's backlog never slows the next. With ``BENCH_URL`` the running stack at
that address is measured instead (see the README's Performance section for its settings).
Prints a table and writes every raw figure, the medians and the ratios as JSON under ``--out``.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import multiprocessing
import os
import platform
import shutil
import socket
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from tests.stack import delete_topics

from .kafka_side import RoutedWatcher, relay_baseline
from .loadgen import ClosedSpec, OpenSpec, Target, WorkerResult, run_closed, run_open, warm
from .services import ROOT, BareApp, Databases, Stack

INF = math.inf
GIT = shutil.which("git") or "git"
KAFKA_SH = ROOT / "deploy" / "local" / "kafka.sh"
GENERATOR = "HTTP/1.1 keep-alive pool on uvloop + httptools (scripts/bench/loadgen.py)"


@dataclass(frozen=True)
class Settings:
    """What one invocation measures and how (all durations in seconds)."""

    runs: int
    rates: tuple[float, ...]
    duration: float
    wait: float
    grace: float
    warmup: float
    window: float
    concurrency: int
    workers: int
    relay_messages: int
    scale: int
    backends: tuple[str, ...]
    bootstrap: str
    out: Path
    external_url: str
    external_key: str
    external_namespace: str
    drain: float


def parse_args(argv: list[str] | None = None) -> Settings:
    parser = argparse.ArgumentParser(prog="make bench", description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=3, help="repeats of every measurement (median)")
    parser.add_argument("--quick", action="store_true", help="one short run: a smoke test of the harness")
    parser.add_argument("--rates", default="50,200,500", help="offered open-loop rates, calls/s")
    parser.add_argument("--duration", type=float, default=10, help="seconds of sending per rate")
    parser.add_argument("--wait", type=float, default=20, help="seconds to wait for stragglers")
    parser.add_argument("--window", type=float, default=10, help="saturation measuring window, s")
    parser.add_argument("--warmup", type=float, default=3, help="saturation warm-up before the window, s")
    parser.add_argument("--concurrency", type=int, default=64, help="closed-loop clients in all")
    parser.add_argument("--workers", type=int, default=0, help="generator processes (0: pick by measuring)")
    parser.add_argument("--relay-messages", type=int, default=20_000, help="messages through the relay")
    parser.add_argument("--scale", type=int, default=1, help="triage and routing instances (>1: PostgreSQL)")
    parser.add_argument(
        "--backend",
        choices=["sqlite", "postgresql", "all"],
        default="all",
        help="databases to run on; 'all' adds PostgreSQL when DATABASE_URL is set",
    )
    parser.add_argument("--out", type=Path, default=ROOT / ".run" / "bench", help="data and JSON folder")
    args = parser.parse_args(argv)
    if args.quick:
        args.runs, args.duration, args.wait = 1, 2.0, 15.0
        args.window, args.warmup, args.relay_messages = 3.0, 2.0, 3000
    database_url = os.environ.get("DATABASE_URL", "")
    backends: tuple[str, ...]
    if args.backend == "all":
        backends = ("sqlite", "postgresql") if database_url.startswith("postgresql") else ("sqlite",)
    else:
        backends = (args.backend,)
    if "postgresql" in backends and not database_url.startswith("postgresql"):
        parser.error("--backend postgresql needs DATABASE_URL=postgresql+psycopg://... (an admin URL)")
    if os.environ.get("BENCH_URL"):
        backends = ("external",)  # whatever database the running stack has
    elif args.scale > 1:
        if "postgresql" not in backends:
            parser.error("--scale above 1 runs on PostgreSQL only (SQLite has one writer): set DATABASE_URL")
        backends = ("postgresql",)
    return Settings(
        runs=args.runs,
        rates=tuple(float(r) for r in args.rates.split(",") if r.strip()),
        duration=args.duration,
        wait=args.wait,
        grace=10.0,
        warmup=args.warmup,
        window=args.window,
        concurrency=args.concurrency,
        workers=args.workers,
        relay_messages=args.relay_messages,
        scale=args.scale,
        backends=backends,
        bootstrap=os.environ.get("BENCH_KAFKA")
        or os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092"),
        out=args.out.resolve(),
        external_url=os.environ.get("BENCH_URL", ""),
        external_key=os.environ.get("BENCH_API_KEY", ""),
        external_namespace=os.environ.get("BENCH_NAMESPACE", ""),
        drain=float(os.environ.get("BENCH_DRAIN_SECONDS", "120")),
    )


# --- figures ----------------------------------------------------------------------------------------


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank ``q`` percentile (0-100) of ``values``; ``inf`` entries (missing) sort last."""
    if not values:
        return INF
    ordered = sorted(values)
    return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]


def ms(seconds: float) -> float | None:
    """Seconds to milliseconds, rounded; ``None`` for unbounded (JSON has no infinity)."""
    return None if math.isinf(seconds) else round(seconds * 1000, 2)


def median(values: list[float | None]) -> float | None:
    """Median where ``None`` (unbounded) sorts above every number; ``None`` if that is the median."""
    numbers = sorted(INF if v is None else v for v in values)
    if not numbers:
        return None
    value = statistics.median_low(numbers)
    return None if math.isinf(value) else value


def cpu_busy(results: list[WorkerResult]) -> float:
    return round(max((r.cpu_busy for r in results), default=0.0), 3)


class Bench:
    """Runs phases with one pool of generator processes."""

    def __init__(self, settings: Settings, executor: ProcessPoolExecutor, workers: int) -> None:
        self.settings = settings
        self.executor = executor
        self.workers = workers
        self.last_ids: set[str] = set()  # the call ids the last phase had accepted

    async def open_phase(
        self, target: Target, rate: float, watcher: RoutedWatcher | None = None
    ) -> dict[str, Any]:
        """Offer ``rate`` calls/s for ``duration`` s; POST latency, and routed latency with a watcher."""
        s = self.settings
        loop = asyncio.get_running_loop()
        start_at = time.monotonic() + 1.0
        tag = f"bench-{uuid.uuid4().hex[:8]}"
        specs = [
            OpenSpec(target, tag, rate, s.duration, start_at, index, self.workers, grace=s.grace)
            for index in range(self.workers)
        ]
        results = await asyncio.gather(*(loop.run_in_executor(self.executor, run_open, p) for p in specs))
        end = start_at + s.duration
        due = int(rate * s.duration)
        sent = [r for result in results for r in result.sent]
        accepted = [r for r in sent if r.call_id is not None and r.done is not None]
        post_latency = [r.done - r.due for r in accepted if r.done is not None]
        post_latency += [INF] * (due - len(post_latency))
        figures: dict[str, Any] = {
            "offered_per_s": rate,
            "due": due,
            "accepted": len(accepted),
            "http_failed": due - len(accepted),
            "posted_per_s": round(sum(1 for r in accepted if r.done and r.done <= end) / s.duration, 2),
            "post_p50_ms": ms(percentile(post_latency, 50)),
            "post_p99_ms": ms(percentile(post_latency, 99)),
            "generator_cpu_busy": cpu_busy(results),
        }
        if watcher is None:
            return figures
        ids = {r.call_id for r in accepted if r.call_id}
        self.last_ids = ids
        await watcher.wait_for(ids, max(end + s.wait, time.monotonic() + 1))
        routed = {
            r.call_id: watcher.first[r.call_id].at - r.due for r in accepted if r.call_id in watcher.first
        }
        latency = list(routed.values()) + [INF] * (due - len(routed))
        routed_in_time = sum(1 for c in ids if c in watcher.first and watcher.first[c].at <= end)
        accepted_in_time = sum(1 for r in accepted if r.done and r.done <= end)
        figures |= {
            "routed": len(routed),
            "missing": due - len(routed),
            "routed_per_s": round(routed_in_time / s.duration, 2),
            "backlog_at_end": accepted_in_time - routed_in_time,
            "routed_p50_ms": ms(percentile(latency, 50)),
            "routed_p99_ms": ms(percentile(latency, 99)),
            "double_assigned_units": len(watcher.double_assignments()),
        }
        return figures

    async def closed_phase(self, target: Target, watcher: RoutedWatcher | None = None) -> dict[str, Any]:
        """``concurrency`` clients back to back: accepted POSTs/s (and routed/s) over the window."""
        s = self.settings
        loop = asyncio.get_running_loop()
        start_at = time.monotonic() + 1.0
        tag = f"bench-{uuid.uuid4().hex[:8]}"
        shares = [
            s.concurrency // self.workers + (i < s.concurrency % self.workers) for i in range(self.workers)
        ]
        specs = [
            ClosedSpec(target, tag, share, start_at, s.warmup, s.window, index)
            for index, share in enumerate(shares)
            if share
        ]
        results = await asyncio.gather(*(loop.run_in_executor(self.executor, run_closed, p) for p in specs))
        window_start = start_at + s.warmup
        window_end = window_start + s.window
        figures: dict[str, Any] = {
            "clients": s.concurrency,
            "posted_per_s": round(sum(r.window_ok for r in results) / s.window, 2),
            "generator_cpu_busy": cpu_busy(results),
        }
        if watcher is not None:
            ids = {r.call_id for result in results for r in result.sent if r.call_id}
            self.last_ids = ids
            routed = sum(
                1 for c in ids if c in watcher.first and window_start <= watcher.first[c].at < window_end
            )
            figures |= {
                "routed_per_s": round(routed / s.window, 2),
                "accepted": len(ids),
                "double_assigned_units": len(watcher.double_assignments()),
            }
        return figures


# --- stacks -----------------------------------------------------------------------------------------


class StackPhase:
    """A fresh private stack (or the external one) with a routed-event watcher, for one phase."""

    def __init__(self, settings: Settings, backend: str, name: str, scale: int = 1) -> None:
        self.settings = settings
        self.backend = backend
        self.name = name
        self.scale = scale
        self.stack: Stack | None = None
        self.watcher: RoutedWatcher | None = None

    async def __aenter__(self) -> tuple[Target, RoutedWatcher]:
        s = self.settings
        if s.external_url:
            parts = urlsplit(s.external_url)
            target = Target(parts.hostname or "127.0.0.1", parts.port or 80, s.external_key)
            self.watcher = RoutedWatcher(s.bootstrap, s.external_namespace)
        else:
            namespace = f"bench{uuid.uuid4().hex[:8]}."
            workdir = s.out / "data" / f"{self.backend}-{self.name}-{namespace.rstrip('.')}"
            workdir.mkdir(parents=True, exist_ok=True)
            databases = Databases(self.backend, workdir, os.environ.get("DATABASE_URL", ""))
            self.stack = Stack(
                workdir, bootstrap=s.bootstrap, namespace=namespace, databases=databases, scale=self.scale
            )
            await asyncio.to_thread(self.stack.start)
            target = self.stack.intake
            self.watcher = RoutedWatcher(s.bootstrap, namespace)
        await self.watcher.start()
        return target, self.watcher

    async def __aexit__(self, *exc: object) -> None:
        if self.watcher is not None:
            await self.watcher.stop()
        if self.stack is not None:
            await asyncio.to_thread(self.stack.stop)


async def drain(settings: Settings, watcher: RoutedWatcher, ids: set[str]) -> None:
    """On an external stack, wait (at most ``drain`` s) for the phase's calls to be routed."""
    if settings.external_url and ids:
        await watcher.wait_for(ids, time.monotonic() + settings.drain)


# --- the whole run ----------------------------------------------------------------------------------


async def pick_workers(
    settings: Settings, executor: ProcessPoolExecutor, bare: BareApp
) -> tuple[int, list[Any]]:
    """Saturate the bare app with 1 and with ``cpu_count`` generator processes; keep the faster."""
    if settings.workers:
        return settings.workers, []
    checks = []
    candidates = sorted({1, max(os.cpu_count() or 1, 1)})
    for workers in candidates:
        figures = await Bench(settings, executor, workers).closed_phase(bare.target)
        checks.append({"workers": workers} | figures)
        print(
            f"  generator check: {workers} process(es) -> bare app {figures['posted_per_s']:,.0f} POST/s, "
            f"generator CPU {figures['generator_cpu_busy']:.0%}",
            flush=True,
        )
    best = max(checks, key=lambda c: c["posted_per_s"])
    return int(best["workers"]), checks


async def one_run(settings: Settings, bench: Bench, bare: BareApp, number: int) -> dict[str, Any]:
    s = settings
    run: dict[str, Any] = {"run": number, "baseline": {"bare_open": {}}, "stack": {}}
    print(f"run {number}/{s.runs}: baselines", flush=True)
    for rate in s.rates:
        run["baseline"]["bare_open"][str(rate)] = await bench.open_phase(bare.target, rate)
    run["baseline"]["bare_saturated"] = await bench.closed_phase(bare.target)
    relay_prefix = f"bench{uuid.uuid4().hex[:8]}."
    relay = await relay_baseline(s.bootstrap, relay_prefix, messages=s.relay_messages, timeout=60)
    await asyncio.to_thread(delete_topics, relay_prefix, s.bootstrap)
    run["baseline"]["relay"] = asdict(relay) | {"msg_per_s": round(relay.rate, 1)}
    for backend in s.backends:
        label = backend
        results: dict[str, Any] = {"open": {}}
        if s.scale == 1:
            for rate in s.rates:
                print(f"run {number}/{s.runs}: {label} at {rate:g} calls/s", flush=True)
                async with StackPhase(s, backend, f"rate{rate:g}") as (target, watcher):
                    results["open"][str(rate)] = await bench.open_phase(target, rate, watcher)
                    await drain(s, watcher, bench.last_ids)
        print(f"run {number}/{s.runs}: {label} saturated (scale {s.scale})", flush=True)
        async with StackPhase(s, backend, "saturated", s.scale) as (target, watcher):
            results["saturated"] = await bench.closed_phase(target, watcher)
            await drain(s, watcher, bench.last_ids)
        run["stack"][label] = results
    return run


def medians(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """The median of every numeric leaf over the runs, in the same nesting."""

    def merge(values: list[Any]) -> Any:
        first = values[0]
        if isinstance(first, dict):
            return {k: merge([v[k] for v in values if k in v]) for k in first}
        if first is None or isinstance(first, int | float):
            return median([v for v in values if v is None or isinstance(v, int | float)])
        return first

    return dict(merge([{k: v for k, v in r.items() if k != "run"} for r in runs]))


def ratio(numerator: float | None, denominator: float | None) -> float | None:
    if numerator is None or not denominator:
        return None
    return round(numerator / denominator, 4)


def ratios(summary: dict[str, Any]) -> dict[str, Any]:
    """Each stack figure over its baseline: latency over the bare app's POST latency at the same rate,
    routed/s over the relay's msg/s, intake POSTs/s over the bare app's POSTs/s."""
    base = summary["baseline"]
    out: dict[str, Any] = {}
    for label, results in summary["stack"].items():
        entry: dict[str, Any] = {"open": {}}
        for rate, figures in results.get("open", {}).items():
            bare = base["bare_open"].get(rate, {})
            entry["open"][rate] = {
                "routed_p50_over_bare_post_p50": ratio(figures.get("routed_p50_ms"), bare.get("post_p50_ms")),
                "routed_p99_over_bare_post_p99": ratio(figures.get("routed_p99_ms"), bare.get("post_p99_ms")),
            }
        saturated = results.get("saturated", {})
        entry["saturated"] = {
            "routed_per_s_over_relay_msg_per_s": ratio(
                saturated.get("routed_per_s"), base["relay"]["msg_per_s"]
            ),
            "posted_per_s_over_bare_posted_per_s": ratio(
                saturated.get("posted_per_s"), base["bare_saturated"]["posted_per_s"]
            ),
        }
        out[label] = entry
    return out


def fmt_ms(value: float | None, bound: float) -> str:
    return f">{bound:g} s" if value is None else f"{value:,.1f}"


def table(summary: dict[str, Any], rat: dict[str, Any], settings: Settings) -> str:
    """The medians as a plain-text table."""
    base = summary["baseline"]
    bound = settings.duration + settings.wait
    lines = [
        f"{'measure':<44}{'stack':>22}{'baseline':>26}{'ratio':>10}",
        "-" * 102,
    ]
    for label, results in summary["stack"].items():
        lines.append(f"[{label}]")
        for rate, f in results.get("open", {}).items():
            bare = base["bare_open"][rate]
            r = rat[label]["open"][rate]
            for q in ("50", "99"):
                stack_ms = fmt_ms(f[f"routed_p{q}_ms"], bound)
                bare_ms = "bare POST " + fmt_ms(bare[f"post_p{q}_ms"], bound)
                ratio_q = _r(r[f"routed_p{q}_over_bare_post_p{q}"])
                name = f"{float(rate):>5g} calls/s routed p{q} ms"
                lines.append(f"  {name:<42}{stack_ms:>22}{bare_ms:>26}{ratio_q:>10}")
            counts = (
                f"{f['posted_per_s']:g} / {f['routed_per_s']:g} / {f['backlog_at_end']:g} / {f['missing']:g}"
            )
            lines.append(f"  {'':>13} posted/s, routed/s, backlog, missing {counts:>22}")
        sat = results.get("saturated", {})
        r = rat[label]["saturated"]
        lines.append(
            f"  saturated routed calls/s{'':<20}{sat.get('routed_per_s', 0):>22,.1f}"
            f"{'relay ' + format(base['relay']['msg_per_s'], ',.0f') + ' msg/s':>26}"
            f"{_r(r['routed_per_s_over_relay_msg_per_s']):>10}"
        )
        lines.append(
            f"  saturated intake POSTs/s{'':<20}{sat.get('posted_per_s', 0):>22,.1f}"
            f"{'bare ' + format(base['bare_saturated']['posted_per_s'], ',.0f') + ' POST/s':>26}"
            f"{_r(r['posted_per_s_over_bare_posted_per_s']):>10}"
        )
        lines.append(
            f"  units assigned to two calls at once{'':<9}{sat.get('double_assigned_units', 0):>22g}"
        )
    return "\n".join(lines)


def _r(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if value >= 100 else f"{value:.3g}"


def machine() -> dict[str, Any]:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {
        "cpus": os.cpu_count(),
        "cpu_model": model or platform.processor(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "host": socket.gethostname(),
    }


def git_commit() -> str:
    try:
        commit = subprocess.run(  # noqa: S603
            [GIT, "rev-parse", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # noqa: S603
            [GIT, "status", "--porcelain"], cwd=ROOT, capture_output=True, text=True
        )
        return commit + ("+dirty" if dirty.stdout.strip() else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def kafka_up(bootstrap: str) -> bool:
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


async def main_async(settings: Settings) -> Path:
    s = settings
    s.out.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    if s.external_url:
        print(
            f"measuring the running stack at {s.external_url} (namespace {s.external_namespace!r}); "
            "its rate limit is its own: start its intake with RATE_LIMIT_PER_MINUTE=0",
            flush=True,
        )
    else:
        print(
            f"starting private stacks under {s.out / 'data'} with RATE_LIMIT_PER_MINUTE=0 "
            f"(intake's per-key rate limit off); backends: {', '.join(s.backends)}",
            flush=True,
        )
    print(f"broker {s.bootstrap}; generator: {GENERATOR}", flush=True)
    context = multiprocessing.get_context("spawn")
    max_workers = max(s.workers, os.cpu_count() or 1)
    bare = BareApp(s.out / "data" / "bare.log")
    bare.start()
    try:
        with ProcessPoolExecutor(max_workers=max_workers, mp_context=context) as executor:
            loop = asyncio.get_running_loop()
            await asyncio.gather(*(loop.run_in_executor(executor, warm) for _ in range(max_workers)))
            workers, checks = await pick_workers(s, executor, bare)
            print(f"generator: {workers} process(es)", flush=True)
            bench = Bench(s, executor, workers)
            runs = [await one_run(s, bench, bare, number) for number in range(1, s.runs + 1)]
    finally:
        bare.stop()
    summary = medians(runs)
    rat = ratios(summary)
    report: dict[str, Any] = {
        "timestamp": started.isoformat(),
        "machine": machine(),
        "git_commit": git_commit(),
        "settings": {
            k: (str(v) if isinstance(v, Path) else v) for k, v in asdict(s).items() if k != "external_key"
        }
        | {"rate_limit_per_minute": 0 if not s.external_url else "as configured"},
        "generator": {"kind": GENERATOR, "processes": workers, "checks": checks},
        "runs": runs,
        "medians": summary,
        "ratios": rat,
    }
    path = s.out / f"bench-{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    m = report["machine"]
    print()
    print(
        f"medians of {s.runs} run(s); machine: {m['cpus']} CPU ({m['cpu_model']}), Python {m['python']}; "
        f"commit {report['git_commit'][:12]}; generator: {workers} process(es) of {GENERATOR}"
    )
    print(table(summary, rat, s))
    print(f"\nJSON: {path}")
    return path


def main(argv: list[str] | None = None) -> None:
    settings = parse_args(argv)
    private_kafka = False
    if not kafka_up(settings.bootstrap):
        if settings.bootstrap != "127.0.0.1:9092":
            sys.exit(f"no Kafka broker at {settings.bootstrap}")
        print("no broker at 127.0.0.1:9092: starting a private one under .run/bench/kafka", flush=True)
        env = {**os.environ, "RUN_DIR": str(settings.out / "kafka")}
        subprocess.run([str(KAFKA_SH), "start"], env=env, check=True)  # noqa: S603 - our own script
        private_kafka = True
    try:
        asyncio.run(main_async(settings))
    finally:
        if private_kafka:
            env = {**os.environ, "RUN_DIR": str(settings.out / "kafka")}
            subprocess.run([str(KAFKA_SH), "stop"], env=env, check=False)  # noqa: S603 - our own script


if __name__ == "__main__":
    main()
