"""The service runtime owns the lifecycle: periodic jobs (retention and the service's own) run from
``start`` to ``stop``, and a unit of work commits, then wakes the outbox relay."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from dispatch_shared.db import migrate, transaction
from dispatch_shared.events import CallStatus, utcnow
from dispatch_shared.outbox import OutboxRelay
from dispatch_shared.retention import Purged, PurgePass
from dispatch_shared.runtime import ServiceRuntime, is_ready
from dispatch_shared.settings import ServiceSettings
from intake.app import MIGRATIONS
from intake.models import IntakeOutbox
from sqlalchemy import text
from sqlmodel import Session, col, select

from tests.factories import T0, new_call_id, status_changed
from tests.unit.test_outbox_relay import ScriptedLink, eventually


def make_runtime(tmp_path: Path, purge_pass: PurgePass | None = None) -> ServiceRuntime:
    settings = ServiceSettings(
        service_name="intake",
        database_url=f"sqlite:///{tmp_path / 'runtime.db'}",
        kafka_bootstrap_servers="127.0.0.1:9",  # nothing listens: the runtime must start and stop anyway
        shutdown_timeout_seconds=3,
        retention_days=7,
    )
    return ServiceRuntime(
        settings, migrations_dir=MIGRATIONS, outbox_table=IntakeOutbox, purge_pass=purge_pass
    )


@pytest.fixture
def runtime(tmp_path: Path) -> Iterator[ServiceRuntime]:
    runtime = make_runtime(tmp_path)
    yield runtime
    runtime.engine.dispose()


async def test_jobs_run_from_start_and_stop_waits_for_the_run_in_hand(tmp_path: Path) -> None:
    cutoffs: list[datetime] = []

    def purge_pass(session: Session, cutoff: datetime, batch: int) -> Purged:
        cutoffs.append(cutoff)
        return Purged()

    runtime = make_runtime(tmp_path, purge_pass)
    started, finished = threading.Event(), threading.Event()

    def slow_job() -> None:  # holds a connection, as the queue review or a purge would
        with runtime.engine.connect() as connection:
            started.set()
            time.sleep(0.3)
            connection.execute(text("select 1"))
        finished.set()

    ticks: list[float] = []
    runtime.jobs.every(60, slow_job, name="slow")
    runtime.jobs.every(0.01, lambda: ticks.append(time.monotonic()), name="ticker")
    await asyncio.sleep(0.05)
    assert not started.is_set() and not cutoffs and not ticks  # registered, but nothing runs before start
    await runtime.start()
    while not (started.is_set() and cutoffs and len(ticks) > 2):
        await asyncio.sleep(0.01)
    await runtime.stop()
    assert finished.is_set()  # the run under way ended before the engine was disposed
    stopped_at = len(ticks)
    await asyncio.sleep(0.2)
    assert len(ticks) == stopped_at  # no job runs after stop
    # Retention ran at start-up with RETENTION_DAYS as its horizon.
    assert abs(cutoffs[0] - (utcnow() - timedelta(days=7))) < timedelta(minutes=1)


@pytest.fixture
async def relay(runtime: ServiceRuntime) -> AsyncIterator[ScriptedLink]:
    """The runtime's relay running over a stand-in link that acknowledges everything; it polls
    only once a minute, so an event going out at once was woken for."""
    migrate(runtime.engine, migrations_dir=MIGRATIONS, service="intake")
    link = ScriptedLink()
    runtime.relay = OutboxRelay(runtime.engine, IntakeOutbox, link, poll_seconds=60)
    task = asyncio.create_task(runtime.relay.run())
    await asyncio.sleep(0.1)  # the first pass finds nothing and waits
    yield link
    runtime.relay.stop_soon(1)
    await task


def unsent(runtime: ServiceRuntime) -> int:
    with transaction(runtime.engine) as session:
        return len(session.exec(select(IntakeOutbox).where(col(IntakeOutbox.sent_at).is_(None))).all())


async def test_a_unit_of_work_wakes_the_relay_once_it_has_committed(
    runtime: ServiceRuntime, relay: ScriptedLink
) -> None:
    with runtime.unit_of_work() as session:
        event_id = runtime.outbox.add(session, status_changed(new_call_id(), CallStatus.EN_ROUTE, T0))
    await eventually(lambda: relay.acknowledged == [event_id], timeout=5)
    await eventually(lambda: unsent(runtime) == 0, timeout=5)


async def test_a_failed_unit_of_work_keeps_nothing_and_wakes_nothing(
    runtime: ServiceRuntime, relay: ScriptedLink
) -> None:
    with transaction(runtime.engine) as session:  # a plain transaction: the relay is not told
        waiting = runtime.outbox.add(session, status_changed(new_call_id(), CallStatus.EN_ROUTE, T0))
    with pytest.raises(LookupError), runtime.unit_of_work() as session:
        runtime.outbox.add(session, status_changed(new_call_id(), CallStatus.ON_SCENE, T0))
        raise LookupError("no such call")
    await asyncio.sleep(0.5)
    assert relay.acknowledged == [] and unsent(runtime) == 1  # rolled back, and nobody woke the relay
    with runtime.unit_of_work() as session:
        last = runtime.outbox.add(session, status_changed(new_call_id(), CallStatus.RESOLVED, T0))
    await eventually(lambda: relay.acknowledged == [waiting, last], timeout=5)


@pytest.mark.parametrize(
    ("checks", "ready"),
    [
        ({"database": "ok", "kafka": "ok", "consumer": "ok"}, True),
        ({"database": "ok", "kafka": "KafkaConnectionError", "consumer": "ok"}, True),
        ({"database": "ok", "kafka": "ok"}, True),
        ({"database": "OperationalError", "kafka": "ok", "consumer": "ok"}, False),
        ({"database": "ok", "kafka": "ok", "consumer": "stalled"}, False),
        ({"database": "ok", "kafka": "KafkaConnectionError", "consumer": "restarting"}, False),
    ],
)
def test_readiness_is_gated_by_the_database_and_the_consumer_not_kafka(
    checks: dict[str, str], ready: bool
) -> None:
    assert is_ready(checks) is ready
