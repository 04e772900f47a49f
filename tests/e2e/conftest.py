"""The three services as real processes on the real broker, each test in its own namespace."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.stack import API_KEYS, ServiceProcess


class Stack:
    """intake, triage and routing started together with one database and topic namespace."""

    def __init__(self, workdir: Path, *, namespace: str, database_url: str, bootstrap: str) -> None:
        self.workdir = workdir
        self.env = {
            "DATABASE_URL": database_url,
            "KAFKA_NAMESPACE": namespace,
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "OUTBOX_POLL_SECONDS": "0.2",
            "API_KEYS": API_KEYS,
        }
        self.namespace = namespace
        self.services = {
            name: ServiceProcess(name, self.env, workdir / "logs" / f"{name}.log")
            for name in ("intake", "triage", "routing")
        }

    def __getitem__(self, name: str) -> ServiceProcess:
        return self.services[name]

    def start(self) -> None:
        for service in self.services.values():
            service.start()
        for service in self.services.values():
            service.wait_ready()

    def stop(self) -> None:
        for service in self.services.values():
            service.stop()

    def logs(self) -> str:
        return "\n".join(s.log_text() for s in self.services.values() if s.log_path.exists())


@pytest.fixture
def stack(tmp_path: Path, namespace: str, database_url: str, kafka_bootstrap: str) -> Iterator[Stack]:
    stack = Stack(tmp_path, namespace=namespace, database_url=database_url, bootstrap=kafka_bootstrap)
    stack.start()
    yield stack
    stack.stop()
