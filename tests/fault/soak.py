"""The fault soak (``make soak``): many rounds, each with random faults while calls stream in.

Every round posts calls at a steady pace and, at random moments, injects ``--faults-per-round``
faults (one by default) chosen at random, each to another target:

- ``kill``: SIGKILL of a random service, started again when the fault ends;
- ``broker_stop`` / ``broker_kill``: the Kafka broker stopped with SIGTERM or SIGKILL, then
  started again;
- ``database_restart``: the PostgreSQL cluster restarted (PostgreSQL only: a SQLite file has
  nothing to restart); it is over when the restart is;
- ``pause``: a random service frozen with SIGSTOP, then resumed with SIGCONT.

The faults of a round overlap: they all last until 1 to 6 s after the last one began, then end
together, the last begun first (so the broker is back before a killed service starts again).

After each round every call accepted so far must be routed exactly once, with a complete ledger
(received, triaged, then assigned or queued), within ``--settle`` seconds. The soak stops at
the first round that fails and prints a table: rounds, faults by kind, calls, lost, duplicated,
and the slowest recovery (seconds from the end of a round's outage, before anything is
restarted, until every call of the round was routed). Rounds are reproducible from the printed
seed.

Run ``python -m tests.fault.soak --help``. The broker is private to the soak (its own ports and
state directory), so nothing else on the machine is disturbed; the database is a SQLite file, or
a new database on the PostgreSQL cluster given by ``TEST_POSTGRES_URL``.
"""

from __future__ import annotations

import argparse
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Stack
from tests.fault.conftest import Broker, CallStream, ledger_snapshot
from tests.stack import POSTGRES_URL, ROOT, create_postgres_database, drop_postgres_database, unique

SERVICES = ("intake", "triage", "routing")
# Each kind of fault and what it can be done to.
TARGETS: dict[str, tuple[str, ...]] = {
    "kill": SERVICES,
    "broker_stop": ("broker",),
    "broker_kill": ("broker",),
    "database_restart": ("database",),
    "pause": SERVICES,
}
KINDS = tuple(TARGETS)


def available_kinds(postgres: bool) -> list[str]:
    """The kinds of fault a soak can do: a database restart on PostgreSQL only."""
    return [kind for kind in KINDS if kind != "database_restart" or postgres]


def most_faults(postgres: bool, calls: int) -> int:
    """How many faults a round of ``calls`` calls can have: one per target and per moment."""
    targets = {target for kind in available_kinds(postgres) for target in TARGETS[kind]}
    return min(len(targets), calls - 1)


# Statuses a routed call can be in; a call still "received" or "triaged" is not routed yet.
UNROUTED = ("received", "triaged")


@dataclass
class Tally:
    """What the soak saw so far."""

    rounds: int = 0
    calls: int = 0
    calls_under_fault: int = 0  # accepted while every fault of their round was in effect
    lost: int = 0
    duplicated: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    slowest_recovery: float = 0.0
    failure: str | None = None

    def table(self) -> str:
        faults = ", ".join(f"{kind} {self.faults[kind]}" for kind in KINDS if self.faults[kind])
        rows = [
            ("rounds", str(self.rounds)),
            ("faults", faults or "none"),
            ("calls", str(self.calls)),
            ("calls under fault", str(self.calls_under_fault)),
            ("lost", str(self.lost)),
            ("duplicated", str(self.duplicated)),
            ("slowest recovery", f"{self.slowest_recovery:.1f} s"),
            ("result", "FAIL: " + self.failure if self.failure else "PASS"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


@dataclass(frozen=True)
class Fault:
    """``kind`` (one of ``KINDS``) done to ``target`` (a service, "broker" or "database") once
    ``at`` calls of the round were accepted."""

    kind: str
    target: str
    at: int

    def __str__(self) -> str:
        target = f" {self.target}" if self.target in SERVICES else ""
        return f"{self.kind}{target} at call {self.at}"


def check_faults(faults: Sequence[Fault], calls: int, *, hold_until_posted: bool = False) -> None:
    """Raise ``ValueError`` unless ``faults`` can be the faults of one round of ``calls`` calls.

    Each must be a known kind done to one of its targets, at a call of the round (1 to
    ``calls - 1``), in order, each to another target. A fault to intake must come last and cannot
    be held until the last call is posted: calls wait for intake while it is down.
    """
    targets = [fault.target for fault in faults]
    moments = [fault.at for fault in faults]
    unknown = [
        f"{fault.kind} of {fault.target}"
        for fault in faults
        if fault.target not in TARGETS.get(fault.kind, ())
    ]
    if unknown:
        raise ValueError(f"unknown fault or target: {', '.join(unknown)}")
    if moments != sorted(moments) or not all(0 < at < calls for at in moments):
        raise ValueError(f"faults must begin in order between call 1 and call {calls - 1}")
    if len(set(targets)) != len(targets):
        raise ValueError("two faults of one round have the same target")
    if "intake" in targets[:-1] or ("intake" in targets and hold_until_posted):
        raise ValueError("a fault to intake must come last and cannot last until the last call")


@dataclass
class Soak:
    """One stack, one private broker, and the faults that can be done to them."""

    stack: Stack
    broker: Broker
    postgres: bool
    rng: random.Random

    def kinds(self) -> list[str]:
        return available_kinds(self.postgres)

    def plan(self, calls: int, count: int) -> list[Fault]:
        """``count`` random faults for a round of ``calls`` calls, each to another target, at
        distinct random moments; a fault to intake comes last (see ``check_faults``)."""
        chosen: list[tuple[str, str]] = []
        for _ in range(count):
            taken = {target for _, target in chosen}
            kind = self.rng.choice([k for k in self.kinds() if set(TARGETS[k]) - taken])
            chosen.append((kind, self.rng.choice([t for t in TARGETS[kind] if t not in taken])))
        chosen.sort(key=lambda fault: fault[1] == "intake")
        moments = sorted(self.rng.sample(range(1, calls), count))
        return [Fault(kind, target, at) for (kind, target), at in zip(chosen, moments, strict=True)]

    def begin(self, fault: Fault) -> None:
        """Do ``fault``; it lasts until ``end`` (a database restart is over when this returns)."""
        if fault.kind == "kill":
            self.stack[fault.target].kill()
        elif fault.kind == "pause":
            self._process(fault.target).send_signal(signal.SIGSTOP)
        elif fault.kind == "broker_stop":
            self.broker.stop()
        elif fault.kind == "broker_kill":
            os.kill(int((self.broker.run_dir / "kafka.pid").read_text().strip()), signal.SIGKILL)
        elif fault.kind == "database_restart":
            subprocess.run([str(ROOT / "deploy/local/postgres.sh"), "restart"], check=True, cwd=ROOT)
        else:
            raise ValueError(f"unknown fault {fault.kind!r}")

    def end(self, fault: Fault) -> None:
        """Undo ``fault``: start or resume what it stopped, and return once that is ready."""
        if fault.kind == "kill":
            service = self.stack[fault.target]
            service.start()
            service.wait_ready(timeout=120)
        elif fault.kind == "pause":
            self._process(fault.target).send_signal(signal.SIGCONT)
        elif fault.kind in ("broker_stop", "broker_kill"):
            self.broker.start()

    def inject(self, faults: Sequence[Fault], stream: CallStream, hold: float | None) -> tuple[float, int]:
        """Begin each fault once ``stream`` has posted its call, hold them all ``hold`` s after the
        last began (None: until the stream has posted every call), then end them, the last begun
        first. Returns the monotonic time the outage ended, before anything was restarted, and
        the calls accepted while every fault was in effect."""
        for fault in faults:
            stream.wait_until_sent(fault.at)
            self.begin(fault)
        all_in_effect = stream.sent
        if all(fault.kind == "database_restart" for fault in faults):
            return time.monotonic(), 0  # nothing is left down
        if hold is None:
            stream.join()
        else:
            time.sleep(hold)
        over = time.monotonic()
        under_fault = stream.sent - all_in_effect
        for fault in reversed(faults):
            self.end(fault)
        return over, under_fault

    def _process(self, name: str) -> subprocess.Popen[bytes]:
        process = self.stack[name].process
        assert process is not None, f"{name} was never started"
        return process


def _complete(call: dict[str, Any]) -> bool:
    """Routed, and the ledger holds every step before it (steps may arrive in any order)."""
    steps = {step["status"] for step in call["timeline"]}
    return call["status"] not in UNROUTED and {"received", "triaged"} <= steps


def check_ledger(intake_url: str, accepted: set[str], settle: float) -> tuple[int, int, list[dict[str, Any]]]:
    """Wait up to ``settle`` s for every accepted call to be complete; return (lost, duplicated, calls).

    A call is lost when, after ``settle`` s, it is not routed or its ledger lacks a step (the
    routed and triaged events reach the ledger on different topics, so either may come first);
    duplicated when a step (triaged, assigned, queued) appears more than once.
    """
    deadline = time.monotonic() + settle
    while True:
        calls = ledger_snapshot(intake_url)
        by_id = {c["call_id"]: c for c in calls}
        complete = {i for i in accepted if i in by_id and _complete(by_id[i])}
        if complete == accepted or time.monotonic() > deadline:
            break
        time.sleep(0.5)
    duplicated = 0
    for call_id in accepted & set(by_id):
        steps = [s["status"] for s in by_id[call_id]["timeline"]]
        duplicated += sum(max(0, steps.count(s) - 1) for s in ("triaged", "assigned", "queued"))
    return len(accepted - complete), duplicated, calls


def run_soak(
    rounds: int,
    *,
    calls_per_round: int = 30,
    per_second: float = 15,
    faults_per_round: int = 1,
    script: Sequence[Fault] | None = None,
    hold_until_posted: bool = False,
    settle: float = 180,
    seed: int | None = None,
    workdir: Path,
    database_url: str,
    log: Callable[[str], None] = print,
) -> Tally:
    """Run ``rounds`` fault rounds against a fresh stack; the tally says whether any call was lost.

    ``database_url`` is a SQLite URL or a PostgreSQL database on the cluster that
    ``deploy/local/postgres.sh restart`` restarts. Each round has ``faults_per_round`` random
    faults, or the faults of ``script`` when given (see ``check_faults``). With
    ``hold_until_posted`` the faults last until the round's last call is posted, instead of 1 to
    6 s after the last one began. Stops at the first failing round. Raises ``ValueError`` for a
    script or a number of faults a round cannot have.
    """
    postgres = database_url.startswith("postgresql")
    if script is not None:
        check_faults(script, calls_per_round, hold_until_posted=hold_until_posted)
    elif not 0 < faults_per_round <= most_faults(postgres, calls_per_round):
        raise ValueError(f"a round can have 1 to {most_faults(postgres, calls_per_round)} faults")
    seed = seed if seed is not None else random.SystemRandom().randrange(2**32)
    log(f"soak: seed {seed}, {rounds} rounds of {calls_per_round} calls at {per_second:g}/s")
    rng = random.Random(seed)
    broker = Broker(workdir / "kafka-run")
    broker.start()
    stack = Stack(
        workdir, namespace=unique("soak") + ".", database_url=database_url, bootstrap=broker.bootstrap
    )
    tally = Tally()
    accepted: set[str] = set()
    try:
        stack.start()
        soak = Soak(stack, broker, postgres, rng)
        for number in range(1, rounds + 1):
            faults = list(script) if script is not None else soak.plan(calls_per_round, faults_per_round)
            if script is None:
                check_faults(faults, calls_per_round)
            hold = None if hold_until_posted else rng.uniform(1.0, 6.0)
            stream = CallStream(stack["intake"].url, calls_per_round, per_second=per_second)
            stream.start()
            over, under_fault = soak.inject(faults, stream, hold)
            stream.join(timeout=settle)
            accepted |= set(stream.accepted.values())
            lost, duplicated, _ = check_ledger(stack["intake"].url, accepted, settle)
            recovery = time.monotonic() - over
            tally.rounds = number
            tally.calls = len(accepted)
            tally.calls_under_fault += under_fault
            tally.faults.update(fault.kind for fault in faults)
            tally.lost, tally.duplicated = lost, duplicated
            tally.slowest_recovery = max(tally.slowest_recovery, recovery)
            what = ", ".join(map(str, faults))
            held = "until the last call" if hold is None else f"for {hold:.1f} s"
            log(
                f"round {number:>3}: {what}, held {held} ({under_fault} calls under them)  "
                f"calls {len(accepted):>5}  lost {lost}  duplicated {duplicated}  "
                f"recovered in {recovery:5.1f} s"
            )
            if lost or duplicated:
                tally.failure = f"round {number} ({what}): {lost} lost, {duplicated} duplicated"
                break
    except Exception as exc:  # report what happened, with the round, rather than a bare trace
        tally.failure = f"round {tally.rounds + 1}: {type(exc).__name__}: {exc}"
    finally:
        stack.stop()
        broker.stop()
    if tally.failure:
        log(f"soak: logs kept in {workdir / 'logs'}")
    return tally


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=50, help="fault rounds (default 50)")
    parser.add_argument("--calls", type=int, default=30, help="calls posted per round (default 30)")
    parser.add_argument("--rate", type=float, default=15, help="calls per second (default 15)")
    parser.add_argument(
        "--faults-per-round",
        type=int,
        default=1,
        help="overlapping faults per round, each to another target (default 1)",
    )
    parser.add_argument("--settle", type=float, default=180, help="seconds a round may take to recover")
    parser.add_argument("--seed", type=int, default=None, help="replay the rounds of an earlier run")
    args = parser.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="dispatch-soak-"))
    name = unique("soak_")
    database_url = create_postgres_database(name) if POSTGRES_URL else f"sqlite:///{workdir / 'soak.db'}"
    try:
        tally = run_soak(
            args.rounds,
            calls_per_round=args.calls,
            per_second=args.rate,
            faults_per_round=args.faults_per_round,
            settle=args.settle,
            seed=args.seed,
            workdir=workdir,
            database_url=database_url,
        )
    except ValueError as exc:
        parser.error(str(exc))
    finally:
        if POSTGRES_URL:
            drop_postgres_database(name)
    print(tally.table())
    return 1 if tally.failure else 0


if __name__ == "__main__":
    sys.exit(main())
