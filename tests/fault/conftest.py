"""A broker of the fault suite's own (so restarting it disturbs no other test) and a call stream."""

from __future__ import annotations

import os
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.conftest import Stack
from tests.factories import submission
from tests.stack import (
    POSTGRES_URL,
    ROOT,
    auth,
    create_postgres_database,
    drop_postgres_database,
    free_port,
    unique,
)


@dataclass
class Broker:
    """A single-node Kafka started by deploy/local/kafka.sh in a private state directory."""

    run_dir: Path
    port: int = field(default_factory=free_port)
    controller_port: int = field(default_factory=free_port)

    @property
    def bootstrap(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _script(self, command: str) -> None:
        env = {
            **os.environ,
            "RUN_DIR": str(self.run_dir),
            "KAFKA_PORT": str(self.port),
            "KAFKA_CONTROLLER_PORT": str(self.controller_port),
        }
        subprocess.run([str(ROOT / "deploy/local/kafka.sh"), command], env=env, check=True, cwd=ROOT)

    def start(self) -> None:
        self._script("start")

    def stop(self) -> None:
        self._script("stop")


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Broker]:
    broker = Broker(tmp_path / "kafka-run")
    broker.start()
    yield broker
    broker.stop()


@pytest.fixture
def fault_stack(tmp_path: Path, namespace: str, database_url: str, broker: Broker) -> Iterator[Stack]:
    stack = Stack(tmp_path, namespace=namespace, database_url=database_url, bootstrap=broker.bootstrap)
    stack.start()
    yield stack
    stack.stop()


class CallStream:
    """Posts calls at a steady pace from a thread, like a CAD system: retrying each until accepted."""

    def __init__(self, intake_url: str, count: int, *, per_second: float = 10) -> None:
        self.intake_url = intake_url
        self.count = count
        self.interval = 1 / per_second
        self.accepted: dict[str, str] = {}  # cad_incident_id -> call_id
        self.retries = 0
        self._thread = threading.Thread(target=self._run, daemon=True)

    def start(self) -> None:
        self._thread.start()

    def join(self, timeout: float = 300) -> None:
        self._thread.join(timeout)
        assert not self._thread.is_alive(), "the call stream did not finish"

    @property
    def sent(self) -> int:
        return len(self.accepted)

    def wait_until_sent(self, count: int) -> None:
        """Block until ``count`` calls were accepted, or the stream has ended."""
        while self.sent < count and self._thread.is_alive():
            time.sleep(0.02)

    def _post_until_accepted(self, client: httpx.Client, payload: dict[str, Any]) -> str:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            try:
                response = client.post("/v1/calls", json=payload, headers=auth("cad"))
                if response.status_code in (200, 202):
                    return str(response.json()["call_id"])
            except httpx.HTTPError:
                pass  # intake is down or restarting: CAD retries with the same incident id
            self.retries += 1
            time.sleep(0.25)
        raise AssertionError(f"call {payload['cad_incident_id']} was never accepted")

    def _run(self) -> None:
        with httpx.Client(base_url=self.intake_url, timeout=5) as client:
            for _ in range(self.count):
                payload = submission()
                self.accepted[payload["cad_incident_id"]] = self._post_until_accepted(client, payload)
                time.sleep(self.interval)


def ledger_snapshot(intake_url: str) -> list[dict[str, Any]]:
    """Every call in the ledger with its timeline."""
    items: list[dict[str, Any]] = []
    with httpx.Client(base_url=intake_url, timeout=10) as client:
        while True:
            page = client.get(
                "/v1/calls", params={"limit": 500, "offset": len(items)}, headers=auth("console")
            ).json()
            items.extend(page["items"])
            if len(items) >= page["total"]:
                return items


def wait_until_all_routed(intake_url: str, call_ids: set[str], timeout: float = 120) -> list[dict[str, Any]]:
    """The ledger once every call has a routing step, or fail saying how many are missing."""
    deadline = time.monotonic() + timeout
    while True:
        calls = ledger_snapshot(intake_url)
        routed = {c["call_id"] for c in calls if c["status"] not in ("received", "triaged")}
        if call_ids <= routed or time.monotonic() > deadline:
            missing = call_ids - routed
            assert not missing, f"{len(missing)} of {len(call_ids)} accepted calls never routed"
            return calls
        time.sleep(0.5)


def assert_routed_exactly_once(calls: list[dict[str, Any]], accepted: set[str]) -> dict[str, int]:
    """Each accepted call is in the ledger once, triaged once and assigned at most once."""
    by_id = {c["call_id"]: c for c in calls}
    assert accepted <= set(by_id), "accepted calls are missing from the ledger"
    duplicates = {"triaged": 0, "assigned": 0, "queued": 0}
    for call_id in accepted:
        steps = [s["status"] for s in by_id[call_id]["timeline"]]
        for status in duplicates:
            duplicates[status] += max(0, steps.count(status) - 1)
    assert duplicates == {"triaged": 0, "assigned": 0, "queued": 0}, duplicates
    return duplicates


@pytest.fixture
def soak_database_url(tmp_path: Path) -> Iterator[str]:
    """PostgreSQL when the suite has a cluster (so database restarts are among the faults), else SQLite."""
    if not POSTGRES_URL:
        yield f"sqlite:///{tmp_path / 'soak.db'}"
        return
    name = unique("soak_")
    yield create_postgres_database(name)
    drop_postgres_database(name)
