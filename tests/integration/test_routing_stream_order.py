"""The console stream on PostgreSQL when event ids commit out of order: nothing committed is skipped.

A lifecycle report takes event id N, then waits on a unit row another transaction has locked,
while a later change commits N+1. The lock is held well past any grace period a reader might
allow for a rolled-back id. When it is let go, N commits; the stream must hand out N before N+1
and must not lose it. Runs routing as a real process on a real PostgreSQL database and reads
the stream over HTTP, as a console does.
"""

import queue
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from uuid import uuid4

import httpx
import psycopg
import pytest
from dispatch_shared.db import make_engine, transaction
from dispatch_shared.outbox import Outbox
from routing import dispatch
from routing.assignment import DEFAULT_FALLBACKS
from routing.models import RoutingOutbox
from sqlalchemy import text

from tests.factories import triaged
from tests.stack import (
    API_KEYS,
    POSTGRES_URL,
    ServiceProcess,
    auth,
    create_postgres_database,
    drop_postgres_database,
    unique,
)

pytestmark = pytest.mark.integration

HOLD_SECONDS = 8.0
"""How long the unit row stays locked: longer than any grace a reader might give a gap."""
WAIT_SECONDS = 30.0


@pytest.fixture
def postgres_url() -> Iterator[str]:
    if not POSTGRES_URL:
        pytest.skip("TEST_POSTGRES_URL is not set (.ci/run sets it)")
    name = unique("test_")
    yield create_postgres_database(name)
    drop_postgres_database(name)


@pytest.fixture
def routing(
    tmp_path: Path, postgres_url: str, namespace: str, kafka_bootstrap: str
) -> Iterator[ServiceProcess]:
    env = {
        "DATABASE_URL": postgres_url,
        "KAFKA_NAMESPACE": namespace,
        "KAFKA_BOOTSTRAP_SERVERS": kafka_bootstrap,
        "API_KEYS": API_KEYS,
        "STREAM_POLL_SECONDS": "0.1",
    }
    with ServiceProcess("routing", env, tmp_path / "logs" / "routing.log").running() as service:
        yield service


class StreamReader(threading.Thread):
    """Reads the event stream over HTTP and puts each event's (id, name, data) on a queue."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.events: queue.Queue[tuple[int, str, str]] = queue.Queue()
        self.connected = threading.Event()

    def run(self) -> None:
        fields: dict[str, str] = {}
        try:
            with (
                httpx.Client(timeout=httpx.Timeout(10, read=None)) as client,
                client.stream("GET", f"{self.url}/v1/stream", headers=auth("console")) as response,
            ):
                for line in response.iter_lines():
                    if line.startswith("retry:"):
                        self.connected.set()
                    elif line == "" and "id" in fields:
                        self.events.put((int(fields["id"]), fields["event"], fields["data"]))
                        fields = {}
                    elif not line.startswith(":") and ":" in line:
                        name, _, value = line.partition(":")
                        fields[name] = value.strip()
        except httpx.HTTPError:
            pass  # the service stopped

    def take(self, count: int, timeout: float) -> list[tuple[int, str, str]]:
        """The next ``count`` events, or as many as came within ``timeout`` seconds."""
        taken: list[tuple[int, str, str]] = []
        deadline = time.monotonic() + timeout
        while len(taken) < count and (left := deadline - time.monotonic()) > 0:
            try:
                taken.append(self.events.get(timeout=left))
            except queue.Empty:
                break
        return taken


def outbox_ids(url: str, after: int) -> list[int]:
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            rows = connection.execute(
                text("SELECT id FROM routing_outbox WHERE id > :after ORDER BY id"), {"after": after}
            )
            return [int(row[0]) for row in rows]
    finally:
        engine.dispose()


def wait_until_blocked(admin_url: str, timeout: float = 10) -> None:
    """Wait until some session in the test database waits on a row lock."""
    deadline = time.monotonic() + timeout
    with psycopg.connect(admin_url, autocommit=True) as conn:
        while time.monotonic() < deadline:
            blocked = conn.execute(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            ).fetchone()
            if blocked and blocked[0]:
                return
            time.sleep(0.05)
    raise AssertionError("the lifecycle report never waited on the locked unit row")


def test_an_event_committed_late_behind_a_held_lock_is_sent_first_and_not_lost(
    routing: ServiceProcess, postgres_url: str
) -> None:
    plain_url = postgres_url.replace("postgresql+psycopg://", "postgresql://")
    with httpx.Client(base_url=routing.url, timeout=10) as client:
        unit = {"unit_id": "CL-1", "type": "clinician", "name": "Clinician 1"}
        assert client.post("/v1/units", json=unit, headers=auth("ops")).status_code == 200

    # A call assigned to CL-1, routed the way the consumer routes it.
    call_id = uuid4()
    engine = make_engine(postgres_url)
    try:
        with transaction(engine) as session:
            call = dispatch.route_call(
                session,
                event=triaged(call_id),
                chains=DEFAULT_FALLBACKS,
                outbox=Outbox(RoutingOutbox, source="/test"),
            )
            assert call.unit_id == "CL-1"
    finally:
        engine.dispose()

    reader = StreamReader(routing.url)
    reader.start()
    assert reader.connected.wait(WAIT_SECONDS), "the stream never opened"
    start = max(outbox_ids(postgres_url, 0))

    report: dict[str, object] = {}
    with psycopg.connect(plain_url) as holder:
        # Another transaction holds CL-1's row: the report below takes its event id, then waits.
        holder.execute("SELECT 1 FROM routing_units WHERE unit_id = 'CL-1' FOR UPDATE")

        def report_en_route() -> None:
            with httpx.Client(base_url=routing.url, timeout=WAIT_SECONDS + HOLD_SECONDS) as client:
                report["response"] = client.post(
                    f"/v1/calls/{call_id}/status", json={"status": "en_route"}, headers=auth("unit")
                )

        reporter = threading.Thread(target=report_en_route, daemon=True)
        reporter.start()
        wait_until_blocked(plain_url)

        # A later change commits a higher id meanwhile.
        with httpx.Client(base_url=routing.url, timeout=10) as client:
            police = {"unit_id": "P-1", "type": "police", "name": "Police 1"}
            assert client.post("/v1/units", json=police, headers=auth("ops")).status_code == 200
        committed_early = outbox_ids(postgres_url, start)
        assert len(committed_early) == 1, committed_early
        late_id = committed_early[0] - 1  # the report's event, still uncommitted

        sent_while_held = reader.take(1, HOLD_SECONDS)
        holder.rollback()  # let the report go

    reporter.join(WAIT_SECONDS)
    response = report.get("response")
    assert isinstance(response, httpx.Response) and response.status_code == 200, response

    committed = outbox_ids(postgres_url, start)
    assert committed[0] == late_id and len(committed) == 3, committed  # report, P-1, CL-1 en route
    received = sent_while_held + reader.take(len(committed) - len(sent_while_held), WAIT_SECONDS)
    assert [event_id for event_id, _, _ in received] == committed, (
        f"stream sent {[(i, n) for i, n, _ in received]}, outbox holds {committed}"
    )
    assert sent_while_held == [], "an event went out while a lower id could still commit"
    assert received[0][1] == "call.status" and '"en_route"' in received[0][2]
