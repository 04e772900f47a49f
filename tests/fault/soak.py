"""The fault soak (``make soak``): many rounds, each with one random fault while calls stream in.

Every round posts calls at a steady pace and, at a random moment, injects one fault chosen at
random:

- ``kill``: SIGKILL of a random service, restarted after a pause;
- ``broker_stop`` / ``broker_kill``: the Kafka broker stopped with SIGTERM or SIGKILL, then
  started again;
- ``database_restart``: the PostgreSQL cluster restarted (PostgreSQL only: a SQLite file has
  nothing to restart);
- ``pause``: a random service frozen with SIGSTOP, then resumed with SIGCONT.

After each round every call accepted so far must be routed exactly once, with a complete ledger
(received, triaged, then assigned or queued), within ``--settle`` seconds. The soak stops at
the first round that fails and prints a table: rounds, faults by kind, calls, lost, duplicated,
and the slowest recovery (seconds from the end of a fault until every call of its round was
routed). Rounds are reproducible from the printed seed.

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
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.e2e.conftest import Stack
from tests.fault.conftest import Broker, CallStream, ledger_snapshot
from tests.stack import POSTGRES_URL, ROOT, create_postgres_database, drop_postgres_database, unique

SERVICES = ("intake", "triage", "routing")
KINDS = ("kill", "broker_stop", "broker_kill", "database_restart", "pause")
# Statuses a routed call can be in; a call still "received" or "triaged" is not routed yet.
UNROUTED = ("received", "triaged")


@dataclass
class Tally:
    """What the soak saw so far."""

    rounds: int = 0
    calls: int = 0
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
            ("lost", str(self.lost)),
            ("duplicated", str(self.duplicated)),
            ("slowest recovery", f"{self.slowest_recovery:.1f} s"),
            ("result", "FAIL: " + self.failure if self.failure else "PASS"),
        ]
        width = max(len(name) for name, _ in rows)
        return "\n".join(f"  {name:<{width}}  {value}" for name, value in rows)


@dataclass
class Soak:
    """One stack, one private broker, and the faults that can be done to them."""

    stack: Stack
    broker: Broker
    postgres: bool
    rng: random.Random

    def kinds(self) -> list[str]:
        return [k for k in KINDS if k != "database_restart" or self.postgres]

    def inject(self, kind: str) -> str:
        """Do ``kind`` to the stack and return once it is over (everything back up); says what it did."""
        outage = self.rng.uniform(1.0, 6.0)
        if kind == "kill":
            service = self.stack[self.rng.choice(SERVICES)]
            service.kill()
            time.sleep(outage)
            service.start()
            service.wait_ready(timeout=120)
            return f"{kind} {service.name} for {outage:.1f} s"
        elif kind == "pause":
            service = self.stack[self.rng.choice(SERVICES)]
            assert service.process is not None
            service.process.send_signal(signal.SIGSTOP)
            time.sleep(outage)
            service.process.send_signal(signal.SIGCONT)
            return f"{kind} {service.name} for {outage:.1f} s"
        elif kind == "broker_stop":
            self.broker.stop()
            time.sleep(outage)
            self.broker.start()
        elif kind == "broker_kill":
            pid = int((self.broker.run_dir / "kafka.pid").read_text().strip())
            os.kill(pid, signal.SIGKILL)
            time.sleep(outage)
            self.broker.start()
        elif kind == "database_restart":
            subprocess.run([str(ROOT / "deploy/local/postgres.sh"), "restart"], check=True, cwd=ROOT)
            return kind
        else:
            raise ValueError(f"unknown fault {kind!r}")
        return f"{kind} for {outage:.1f} s"


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
    settle: float = 180,
    seed: int | None = None,
    workdir: Path,
    database_url: str,
    log: Callable[[str], None] = print,
) -> Tally:
    """Run ``rounds`` fault rounds against a fresh stack; the tally says whether any call was lost.

    ``database_url`` is a SQLite URL or a PostgreSQL database on the cluster that
    ``deploy/local/postgres.sh restart`` restarts. Stops at the first failing round.
    """
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
        soak = Soak(stack, broker, database_url.startswith("postgresql"), rng)
        for number in range(1, rounds + 1):
            kind = rng.choice(soak.kinds())
            stream = CallStream(stack["intake"].url, calls_per_round, per_second=per_second)
            stream.start()
            at = rng.randrange(1, calls_per_round)
            stream.wait_until_sent(at)
            what = soak.inject(kind)
            over = time.monotonic()
            stream.join(timeout=settle)
            accepted |= set(stream.accepted.values())
            lost, duplicated, _ = check_ledger(stack["intake"].url, accepted, settle)
            recovery = time.monotonic() - over
            tally.rounds = number
            tally.calls = len(accepted)
            tally.faults[kind] += 1
            tally.lost, tally.duplicated = lost, duplicated
            tally.slowest_recovery = max(tally.slowest_recovery, recovery)
            log(
                f"round {number:>3}: {what:<28} at call {at:>3}  calls {len(accepted):>5}  "
                f"lost {lost}  duplicated {duplicated}  recovered in {recovery:5.1f} s"
            )
            if lost or duplicated:
                tally.failure = f"round {number} ({kind}): {lost} lost, {duplicated} duplicated"
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
            settle=args.settle,
            seed=args.seed,
            workdir=workdir,
            database_url=database_url,
        )
    finally:
        if POSTGRES_URL:
            drop_postgres_database(name)
    print(tally.table())
    return 1 if tally.failure else 0


if __name__ == "__main__":
    sys.exit(main())
