"""The processes under test: the three services in a private namespace, and the bare baseline app."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import psycopg

from tests.stack import ServiceProcess, delete_topics, free_port

from .loadgen import Target

ROOT = Path(__file__).resolve().parents[2]
UNITS_FILE = ROOT / "deploy" / "local" / "units.json"
SERVICES = ("intake", "triage", "routing")


def api_keys() -> dict[str, str]:
    """Fresh keys, one per role, for a stack the benchmark starts."""
    return {role: f"{role}-bench-{secrets.token_hex(12)}" for role in ("cad", "console", "unit", "ops")}


@dataclass
class Databases:
    """One database per service: SQLite files under ``workdir``, or new databases on the PostgreSQL
    cluster that ``admin_url`` (a SQLAlchemy psycopg URL) reaches, dropped by ``drop``."""

    backend: str
    workdir: Path
    admin_url: str = ""
    created: list[str] = field(default_factory=list)

    def url(self, service: str, tag: str) -> str:
        if self.backend == "sqlite":
            return f"sqlite:///{self.workdir / f'{service}.db'}"
        name = f"{tag}_{service}".replace(".", "_").replace("-", "_")
        with psycopg.connect(self._libpq(self.admin_url), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        self.created.append(name)
        return self.admin_url.rsplit("/", 1)[0] + f"/{name}"

    @staticmethod
    def _libpq(url: str) -> str:
        return url.replace("postgresql+psycopg://", "postgresql://")

    def drop(self) -> None:
        if not self.created:
            return
        with psycopg.connect(self._libpq(self.admin_url), autocommit=True) as conn:
            for name in self.created:
                for _ in range(60):  # an autovacuum worker the role cannot end may hold it a moment
                    try:
                        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
                        break
                    except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
                        time.sleep(0.5)
        self.created.clear()


class Stack:
    """intake, ``scale`` triage and ``scale`` routing processes on ``bootstrap`` under topic and
    group prefix ``namespace``, each service with its own database, intake's rate limit off."""

    def __init__(
        self, workdir: Path, *, bootstrap: str, namespace: str, databases: Databases, scale: int = 1
    ) -> None:
        self.workdir = workdir
        self.namespace = namespace
        self.bootstrap = bootstrap
        self.databases = databases
        self.keys = api_keys()
        env = {
            "KAFKA_BOOTSTRAP_SERVERS": bootstrap,
            "KAFKA_NAMESPACE": namespace,
            "API_KEYS": ",".join(f"{role}:{key}" for role, key in self.keys.items()),
            "RATE_LIMIT_PER_MINUTE": "0",
            "AGENCY_TIMEZONE": "America/Los_Angeles",  # the demo roster's hours are Seattle's
        }
        tag = namespace.rstrip(".")
        self.processes: list[ServiceProcess] = []
        for service in SERVICES:
            service_env = {**env, "DATABASE_URL": databases.url(service, tag)}
            for number in range(1 if service == "intake" else scale):
                log = workdir / "logs" / f"{service}-{number + 1}.log"
                self.processes.append(ServiceProcess(service, service_env, log))

    def process(self, service: str) -> ServiceProcess:
        return next(p for p in self.processes if p.name == service)

    @property
    def intake(self) -> Target:
        return Target("127.0.0.1", self.process("intake").port, self.keys["cad"])

    def start(self) -> None:
        """Start every process and wait until each answers /readyz; then register the demo roster.
        Stops what it started and raises if one fails."""
        try:
            # One at a time: the first of two instances creates the topics and migrates the database.
            for process in self.processes:
                process.start()
                process.wait_ready(timeout=120)
            response = httpx.post(
                f"{self.process('routing').url}/v1/units",
                content=UNITS_FILE.read_bytes(),
                headers={"Authorization": f"Bearer {self.keys['ops']}", "Content-Type": "application/json"},
                timeout=30,
            )
            response.raise_for_status()
        except BaseException:
            self.stop()
            raise

    def stop(self) -> None:
        """Stop the processes, drop the databases and delete the namespace's topics."""
        for process in reversed(self.processes):
            process.stop()
        self.databases.drop()
        for db in self.workdir.glob("*.db*"):
            db.unlink()
        delete_topics(self.namespace, self.bootstrap)


class BareApp:
    """``scripts.bench.bare_app`` under uvicorn in a subprocess, on a free port."""

    def __init__(self, log: Path) -> None:
        self.port = free_port()
        self.log = log
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def target(self) -> Target:
        return Target("127.0.0.1", self.port, "")

    def start(self) -> None:
        self.log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "BARE_PORT": str(self.port)}
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "scripts.bench.bare_app"],
                cwd=ROOT,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the bare app exited; see {self.log}")
            try:
                httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)
                return
            except httpx.HTTPError:
                time.sleep(0.2)
        raise TimeoutError("the bare app did not start within 60 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
