"""`make run` / `make up` (deploy/local/stack.sh up) when one service cannot start.

The script must exit non-zero naming the service, stop everything this start-up launched (the
broker too, if it launched it) and leave alone a broker that was running before it. Each test runs
the real script on a stack of its own: a private RUN_DIR (pid files, logs, the services' SQLite
databases, the broker's data), free ports for the services and the broker, test API keys and a
unique topic namespace; the shared broker and PostgreSQL are never used.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from dispatch_shared.events import Topic

from tests.fault.conftest import Broker
from tests.stack import API_KEYS, ROOT, free_port, unique

pytestmark = pytest.mark.fault

SCRIPT_TIMEOUT = 300  # s: a broker start, three services, and the stop of each
# Settings the caller's environment may hold that would point the stack elsewhere (a shared broker,
# a team database, other ports); the tests set their own or leave them unset.
INHERITED_SETTINGS = (
    "DATABASE_URL",
    "KAFKA_BOOTSTRAP_SERVERS",
    "KAFKA_NAMESPACE",
    "API_KEYS",
    "ENVIRONMENT",
    "ROUTING_FALLBACKS",
)


@dataclass(frozen=True)
class Outcome:
    """What one ``stack.sh up`` did: its exit status and output."""

    returncode: int
    stdout: str
    stderr: str

    def launched(self) -> dict[str, int]:
        """The pid of each process the script reported starting (``kafka`` included)."""
        pids = {m[1]: int(m[2]) for m in re.finditer(r"^(\w+): started \(pid (\d+)", self.stdout, re.M)}
        if broker := re.search(r"^kafka: started Kafka \S+ \(pid (\d+)", self.stdout, re.M):
            pids["kafka"] = int(broker[1])
        return pids


class PrivateStack:
    """The settings of one private stack, and ways to run ``stack.sh`` and inspect what it left."""

    def __init__(self, run_dir: Path, broker: Broker) -> None:
        self.run_dir = run_dir
        self.broker = broker
        self.namespace = unique("stack-")
        self.ports = {name: free_port() for name in ("intake", "triage", "routing")}

    def env(self, **overrides: str) -> dict[str, str]:
        base = {k: v for k, v in os.environ.items() if k not in INHERITED_SETTINGS}
        return (
            base
            | {
                "RUN_DIR": str(self.run_dir),
                "KAFKA_PORT": str(self.broker.port),
                "KAFKA_CONTROLLER_PORT": str(self.broker.controller_port),
                "INTAKE_PORT": str(self.ports["intake"]),
                "TRIAGE_PORT": str(self.ports["triage"]),
                "ROUTING_PORT": str(self.ports["routing"]),
                "KAFKA_NAMESPACE": self.namespace,
                "API_KEYS": API_KEYS,
                "READY_TIMEOUT": "90",
            }
            | overrides
        )

    def up(self, **overrides: str) -> Outcome:
        done = subprocess.run(
            [str(ROOT / "deploy/local/stack.sh"), "up"],
            env=self.env(**overrides),
            cwd=ROOT,
            capture_output=True,
            text=True,
            timeout=SCRIPT_TIMEOUT,
        )
        return Outcome(done.returncode, done.stdout, done.stderr)

    def processes(self) -> set[int]:
        """Live (not zombie) processes whose environment or command line names the private run dir."""
        marker = str(self.run_dir).encode()
        found = set()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit() or int(entry.name) == os.getpid():
                continue
            try:
                state = (entry / "stat").read_text().rsplit(")", 1)[1].split()[0]
                names_it = (
                    marker in (entry / "environ").read_bytes() or marker in (entry / "cmdline").read_bytes()
                )
            except OSError:  # gone meanwhile, or another user's
                continue
            if state != "Z" and names_it:
                found.add(int(entry.name))
        return found

    def topics_on_private_broker(self) -> set[str]:
        """This stack's topics in the private broker's data directory (partition dirs, ``-<n>`` cut)."""
        data = self.run_dir / "kafka" / "data"
        return {d.name.rsplit("-", 1)[0] for d in data.iterdir() if d.name.startswith(self.namespace)}


@pytest.fixture
def private(tmp_path: Path) -> Iterator[PrivateStack]:
    run_dir = tmp_path / "run"
    stack = PrivateStack(run_dir, Broker(run_dir))
    yield stack
    # Whatever the assertions found, leave nothing of this stack running.
    for pid in stack.processes():
        os.kill(pid, signal.SIGKILL)


@contextmanager
def port_held() -> Iterator[int]:
    """A port something else listens on (never answering), as when another program has it."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def assert_failed_naming(outcome: Outcome, service: str) -> None:
    assert outcome.returncode != 0, outcome.stdout
    assert f"{service}: exited during start-up" in outcome.stderr, outcome.stderr
    assert "start-up failed; stopping what it started" in outcome.stderr, outcome.stderr


def assert_none_left(private: PrivateStack, launched: dict[str, int], *, broker_before: int | None) -> None:
    """Nothing ``launched`` runs, nor anything else of the private stack but the earlier broker."""
    running = private.processes()
    still = {name: pid for name, pid in launched.items() if pid in running}
    assert not still, f"still running after the failed start-up: {still}"
    kept = set() if broker_before is None else {broker_before}
    assert running == kept, f"processes of the private stack: {running}, expected {kept}"
    pid_files = {p.name for p in private.run_dir.glob("*.pid")}
    assert pid_files == ({"kafka.pid"} if kept else set()), pid_files


def test_a_service_that_cannot_start_stops_the_stack_and_the_broker_it_launched(
    private: PrivateStack,
) -> None:
    # Routing's settings are invalid (a route no unit type may serve); intake and triage are fine.
    outcome = private.up(ROUTING_FALLBACKS='{"police": []}')

    assert_failed_naming(outcome, "routing")
    launched = outcome.launched()
    assert set(launched) == {"kafka", "intake", "triage", "routing"}, outcome.stdout
    assert "intake: ready" in outcome.stdout and "triage: ready" in outcome.stdout, outcome.stdout
    assert_none_left(private, launched, broker_before=None)
    assert "kafka: stopped" in outcome.stdout
    # It was private: the services kept their databases and their topics in the private run dir.
    assert {p.name for p in private.run_dir.glob("*.db")} >= {"intake.db", "triage.db"}
    assert private.namespace + Topic.CALLS_RECEIVED.value in private.topics_on_private_broker()


def test_a_port_already_taken_stops_the_services_but_not_a_broker_running_before(
    private: PrivateStack,
) -> None:
    private.broker.start()
    try:
        broker_pid = int((private.run_dir / "kafka.pid").read_text())
        with port_held() as taken:
            private.ports["triage"] = taken
            outcome = private.up()

        assert_failed_naming(outcome, "triage")
        launched = outcome.launched()
        assert set(launched) == {"intake", "triage", "routing"}, outcome.stdout
        assert "kafka: already running" in outcome.stdout
        assert "intake: ready" in outcome.stdout
        assert_none_left(private, launched, broker_before=broker_pid)
        assert (private.run_dir / "kafka.pid").read_text().strip() == str(broker_pid)
        assert private.namespace + Topic.CALLS_RECEIVED.value in private.topics_on_private_broker()
    finally:
        private.broker.stop()
