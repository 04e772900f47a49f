"""Test support: the real broker's address, isolated namespaces and databases, service processes."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
from aiokafka import AIOKafkaConsumer
from aiokafka.admin import AIOKafkaAdminClient
from dispatch_shared.runtime import ServiceRuntime
from fastapi import FastAPI
from fastapi.testclient import TestClient

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
KAFKA = os.environ.get("KAFKA_BOOTSTRAP_SERVERS", "127.0.0.1:9092")
POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", "")

# Keys the tests configure on every service they start (API_KEYS); one per role.
TEST_KEYS = {role: f"{role}-test-key-0123456789abcdef" for role in ("cad", "console", "unit", "ops")}
API_KEYS = ",".join(f"{role}:{key}" for role, key in TEST_KEYS.items())


def auth(role: str) -> dict[str, str]:
    """Headers that authenticate as ``role``."""
    return {"Authorization": f"Bearer {TEST_KEYS[role]}"}


def app_of(client: TestClient) -> FastAPI:
    """The service app ``client`` drives in-process."""
    assert isinstance(client.app, FastAPI), client.app
    return client.app


def runtime_of(client: TestClient) -> ServiceRuntime:
    """The runtime (engine, outbox, relay) of the service app ``client`` drives in-process."""
    runtime = app_of(client).state.runtime
    assert isinstance(runtime, ServiceRuntime), runtime
    return runtime


# Each service runs as its own console script with no arguments.
SERVICE_COMMANDS = {name: [str(VENV_BIN / name)] for name in ("intake", "triage", "routing")}


def unique(prefix: str) -> str:
    """A short unique name for a test's topics, groups or databases."""
    return f"{prefix}{uuid.uuid4().hex[:10]}"


def kafka_reachable(bootstrap: str = KAFKA) -> bool:
    host, port = bootstrap.split(",")[0].rsplit(":", 1)
    try:
        with socket.create_connection((host, int(port)), timeout=2):
            return True
    except OSError:
        return False


def delete_topics(prefix: str, bootstrap: str = KAFKA) -> None:
    """Delete every topic whose name starts with ``prefix``; best effort, at most about 20 s.

    Each test's namespace creates a dozen topics; deleting them afterwards keeps the broker's
    partition count, and with it its heap, flat over a whole run. Runs its own event loop in a
    thread, so it can be called from sync and async tests alike.
    """

    async def delete() -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=10_000)
        try:
            await asyncio.wait_for(admin.start(), 5)
            names = [name for name in await admin.list_topics() if name.startswith(prefix)]
            if names:
                await asyncio.wait_for(admin.delete_topics(names), 10)
        except Exception:  # noqa: BLE001, S110 - cleanup only; a leftover topic harms nothing
            pass
        finally:
            await admin.close()

    if kafka_reachable(bootstrap):
        thread = threading.Thread(target=asyncio.run, args=(delete(),), name="delete-topics")
        thread.start()
        thread.join(30)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def create_postgres_database(name: str) -> str:
    """Create an empty database on the test cluster and return its SQLAlchemy URL."""
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"


def drop_postgres_database(name: str, timeout: float = 30) -> None:
    """Drop a test database, ending its sessions.

    A role outside `pg_signal_backend` cannot end an autovacuum worker that is in the database
    at that moment (InsufficientPrivilege); such a worker finishes or yields within seconds, so
    the drop is retried until `timeout` seconds have passed.
    """
    admin = POSTGRES_URL.replace("postgresql+psycopg://", "postgresql://")
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin, autocommit=True) as conn:
        while True:
            try:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                return
            except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)


@dataclass
class ServiceProcess:
    """One service running as a real process, with its own port and log file."""

    name: str
    env: dict[str, str]
    log_path: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        env = {**os.environ, **self.env, f"{self.name.upper()}_PORT": str(self.port)}
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:  # the child keeps its own copy of the descriptor
            self.process = subprocess.Popen(
                SERVICE_COMMANDS[self.name],
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=self.log_path.parent,
            )

    def wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process is not None and self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited:\n{self.log_tail()}")
            try:
                if httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise TimeoutError(f"{self.name} not ready after {timeout}s:\n{self.log_tail()}")

    @contextmanager
    def running(self) -> Iterator[ServiceProcess]:
        """Started and ready for the block, stopped after it whatever happens."""
        self.start()
        try:
            self.wait_ready()
            yield self
        finally:
            self.stop()

    def stop(self, sig: int = signal.SIGTERM, timeout: float = 30) -> int | None:
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else None
        self.process.send_signal(sig)
        try:
            return self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait(10)

    def kill(self) -> None:
        """kill -9: no shutdown hooks, no flush."""
        self.stop(signal.SIGKILL)

    def log_tail(self, lines: int = 40) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return "(no log)"

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace")


async def collect(topic: str, *, count: int, timeout: float = 30, bootstrap: str = KAFKA) -> list[Any]:
    """Read ``count`` records from the start of ``topic`` (all partitions), or fail after ``timeout``."""
    consumer = AIOKafkaConsumer(
        topic, bootstrap_servers=bootstrap, group_id=None, auto_offset_reset="earliest"
    )
    await consumer.start()
    records: list[Any] = []
    try:
        async with asyncio.timeout(timeout):
            while len(records) < count:
                batches = await consumer.getmany(timeout_ms=500)
                for batch in batches.values():
                    records.extend(batch)
    except TimeoutError:
        raise AssertionError(f"{topic}: {len(records)} of {count} records after {timeout}s") from None
    finally:
        await consumer.stop()
    return records
