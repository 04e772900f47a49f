"""Fault injection with real processes: kill -9, broker restarts, database restarts.

Afterwards every accepted call must be routed exactly once in the ledger, with no duplicate
assignment and nothing lost. Figures are printed for the record (run with -s to see them).
"""

import time
from typing import Any

import pytest

from tests.e2e.conftest import Stack
from tests.fault.conftest import (
    Broker,
    CallStream,
    assert_routed_exactly_once,
    wait_until_all_routed,
)
from tests.stack import POSTGRES_URL, ROOT

pytestmark = pytest.mark.fault

CALLS = 60


def wait_for(stream: CallStream, sent: int) -> None:
    stream.wait_until_sent(sent)


def report(
    capsys: pytest.CaptureFixture[str],
    name: str,
    stream: CallStream,
    calls: list[dict[str, Any]],
    **figures: int,
) -> None:
    """Print the figures of one run, past pytest's capture so CI logs show them."""
    routed = {c["call_id"] for c in calls if c["status"] not in ("received", "triaged")}
    figures |= {
        "calls_sent": stream.sent,
        "client_retries": stream.retries,
        "lost": len(set(stream.accepted.values()) - routed),
        "duplicated": sum(assert_routed_exactly_once(calls, set(stream.accepted.values())).values()),
    }
    with capsys.disabled():
        print(f"\n[fault] {name}: " + " ".join(f"{key}={value}" for key, value in figures.items()))


def test_kill_9_each_service_while_calls_stream_in(
    fault_stack: Stack, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = CallStream(fault_stack["intake"].url, 90, per_second=6)
    stream.start()
    kills = 0
    for name, at in (("intake", 10), ("triage", 30), ("routing", 50)):
        wait_for(stream, at)
        fault_stack[name].kill()
        kills += 1
        time.sleep(1.0)
        fault_stack[name].start()
        fault_stack[name].wait_ready()
    stream.join()

    calls = wait_until_all_routed(fault_stack["intake"].url, set(stream.accepted.values()))

    assert_routed_exactly_once(calls, set(stream.accepted.values()))
    assert len(stream.accepted) == 90
    assert stream.retries > 0, "the client never saw intake down: the kill did not happen mid-stream"
    report(capsys, "kill -9", stream, calls, processes_killed=kills)


def test_broker_stop_and_restart_mid_stream(
    fault_stack: Stack, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    stream = CallStream(fault_stack["intake"].url, CALLS)
    stream.start()
    wait_for(stream, 15)
    broker.stop()
    wait_for(stream, 35)  # intake keeps accepting while Kafka is away
    broker.start()
    stream.join()

    calls = wait_until_all_routed(fault_stack["intake"].url, set(stream.accepted.values()), timeout=180)

    assert_routed_exactly_once(calls, set(stream.accepted.values()))
    report(capsys, "broker restart", stream, calls, broker_restarts=1)


@pytest.mark.skipif(not POSTGRES_URL, reason="restarts the PostgreSQL test cluster (TEST_POSTGRES_URL)")
def test_database_restart_mid_stream(
    fault_stack: Stack, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import subprocess

    if not database_url.startswith("postgresql"):
        pytest.skip("a SQLite file does not restart")
    stream = CallStream(fault_stack["intake"].url, CALLS)
    stream.start()
    wait_for(stream, 20)
    subprocess.run([str(ROOT / "deploy/local/postgres.sh"), "restart"], check=True, cwd=ROOT)
    stream.join()

    calls = wait_until_all_routed(fault_stack["intake"].url, set(stream.accepted.values()), timeout=180)

    assert_routed_exactly_once(calls, set(stream.accepted.values()))
    report(capsys, "database restart", stream, calls, database_restarts=1)
