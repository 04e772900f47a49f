"""A Kafka outage seen from the services: honest gauges, a bounded SIGTERM, nothing lost or doubled.

The broker of this suite stops for OUTAGE_SECONDS while calls come in. The services must say so
on /metrics (``dispatch_kafka_connected`` 0, the outbox backlog and its age rising), stop within
their shutdown budget on SIGTERM though the broker is away (their unsent rows wait in the outbox),
and once the broker is back every call is routed exactly once. A second test wedges an idempotent
producer the way a broker-side rejection does and checks the link recovers by itself.
"""

from __future__ import annotations

import signal
import time
from collections.abc import Callable

import httpx
import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError
from dispatch_shared.cloudevents import KafkaMessage
from dispatch_shared.kafka import KafkaLink
from dispatch_shared.settings import ServiceSettings
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.conftest import Stack
from tests.factories import submission
from tests.fault.conftest import Broker, assert_routed_exactly_once, wait_until_all_routed
from tests.stack import ServiceProcess, auth, collect

pytestmark = pytest.mark.fault

OUTAGE_SECONDS = 60  # a minute: the KafkaDisconnected alert fires after 1 m, so an outage this long must show
CALLS_BEFORE = 5
CALLS_DURING = 12
SHUTDOWN_BUDGET = ServiceSettings().shutdown_timeout_seconds  # the default, which the services run with
EXIT_SLACK = 2.0  # interpreter start-up is not in the budget, nor process teardown after the lifespan


def metrics(service: ServiceProcess) -> dict[str, float]:
    """The service's unlabelled gauges and counters from /metrics, by sample name."""
    text = httpx.get(f"{service.url}/metrics", timeout=5).text
    return {
        sample.name: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if not sample.labels
    }


def reports_connected(service: ServiceProcess, value: int) -> Callable[[], bool]:
    return lambda: metrics(service)["dispatch_kafka_connected"] == value


def wait_for(what: str, check: Callable[[], bool], timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what}: not within {timeout}s")
        time.sleep(0.25)


def post_call(intake_url: str) -> str:
    response = httpx.post(f"{intake_url}/v1/calls", json=submission(), headers=auth("cad"), timeout=10)
    assert response.status_code == 202, response.text
    return str(response.json()["call_id"])


def sigterm_seconds(service: ServiceProcess) -> float:
    """SIGTERM ``service`` and return how long it took to exit (through its graceful shutdown)."""
    assert service.process is not None
    started = time.monotonic()
    code = service.stop(signal.SIGTERM, timeout=60)
    elapsed = time.monotonic() - started
    # uvicorn re-raises the signal once its shutdown is complete, so -SIGTERM is a clean exit too.
    assert code in (0, -signal.SIGTERM), f"{service.name} exited with {code}:\n{service.log_tail()}"
    assert "Application shutdown complete" in service.log_tail(), service.log_tail()
    return elapsed


def wait_alive(service: ServiceProcess, timeout: float = 60) -> None:
    """Up and answering (/healthz: the process, not its dependencies)."""

    def alive() -> bool:
        try:
            return httpx.get(f"{service.url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    wait_for(f"{service.name} alive", alive, timeout)


def test_broker_outage_gauges_shutdown_and_no_call_lost(
    fault_stack: Stack, broker: Broker, capsys: pytest.CaptureFixture[str]
) -> None:
    intake, triage = fault_stack["intake"], fault_stack["triage"]
    accepted = {post_call(intake.url) for _ in range(CALLS_BEFORE)}
    wait_until_all_routed(intake.url, accepted, timeout=60)
    assert all(metrics(fault_stack[name])["dispatch_kafka_connected"] == 1 for name in fault_stack.services)

    broker.stop()
    outage_began = time.monotonic()
    # Posted before the services notice: intake's relay starts a delivery that nobody will answer,
    # so the SIGTERM below finds a send in flight.
    accepted.add(post_call(intake.url))
    for name in fault_stack.services:
        wait_for(
            f"{name} reports Kafka disconnected",
            reports_connected(fault_stack[name], 0),
            timeout=15,
        )

    during = [post_call(intake.url) for _ in range(CALLS_DURING)]
    accepted |= set(during)
    wait_for(
        "intake's backlog counts the calls waiting for Kafka",
        lambda: metrics(intake)["dispatch_outbox_backlog"] >= CALLS_DURING,
        timeout=5,
    )
    first_age = metrics(intake)["dispatch_outbox_oldest_seconds"]
    wait_for(
        "the age of the oldest waiting event grows",
        lambda: metrics(intake)["dispatch_outbox_oldest_seconds"] >= first_age + 1,
        timeout=5,
    )

    # SIGTERM while the broker is away: each must exit within its budget, keeping its unsent rows.
    stop_seconds = {service.name: sigterm_seconds(service) for service in (intake, triage)}
    for name, seconds in stop_seconds.items():
        assert seconds < SHUTDOWN_BUDGET + EXIT_SLACK, f"{name} took {seconds:.1f}s to stop"
    intake.start()
    triage.start()
    wait_alive(intake)
    wait_alive(triage)
    wait_for(
        "the restarted intake still has every undelivered event",
        lambda: metrics(intake)["dispatch_outbox_backlog"] >= CALLS_DURING,
        timeout=10,
    )
    assert metrics(intake)["dispatch_kafka_connected"] == 0

    time.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - outage_began)))
    broker.start()

    calls = wait_until_all_routed(intake.url, accepted, timeout=120)
    assert_routed_exactly_once(calls, accepted)
    for name in fault_stack.services:
        wait_for(
            f"{name} reports Kafka connected again",
            reports_connected(fault_stack[name], 1),
            timeout=30,
        )
    wait_for("intake's backlog drains", lambda: metrics(intake)["dispatch_outbox_backlog"] == 0, timeout=30)
    assert metrics(intake)["dispatch_outbox_oldest_seconds"] == 0
    with capsys.disabled():
        figures = " ".join(f"{name}_sigterm_s={seconds:.2f}" for name, seconds in stop_seconds.items())
        print(f"\n[fault] broker outage {OUTAGE_SECONDS}s: calls={len(accepted)} {figures}")


async def test_a_rejected_batch_does_not_wedge_the_producer(kafka_bootstrap: str, namespace: str) -> None:
    # A batch the broker refuses (here: larger than the topic allows) leaves a gap in the
    # idempotent producer's sequence, and every later batch to that partition is refused with
    # OutOfOrderSequenceNumber. The link must replace the producer, not resend into the gap.
    topic = namespace + "wedge"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, 1, 1, topic_configs={"max.message.bytes": "1024"})])
    finally:
        await admin.close()
    link = KafkaLink(kafka_bootstrap, client_id="wedge-test", partitions=1, namespace=namespace)
    link.start()
    try:
        assert await link.wait_connected(30)
        await link.send_batch([KafkaMessage(topic, b"k", b"first", [])])
        with pytest.raises(KafkaError):
            await link.send_batch([KafkaMessage(topic, b"k", b"x" * 4096, [])])

        deadline = time.monotonic() + 30
        while True:  # as the relay does: retry the next row until the broker takes it
            assert await link.wait_connected(max(deadline - time.monotonic(), 0.1)), "never reconnected"
            try:
                await link.send_batch([KafkaMessage(topic, b"k", b"second", [])])
                break
            except KafkaError as exc:
                assert time.monotonic() < deadline, f"the producer stayed wedged: {exc!r}"
    finally:
        await link.stop()

    records = await collect(topic, count=2, bootstrap=kafka_bootstrap)
    assert [r.value for r in records] == [b"first", b"second"]
    with pytest.raises(AssertionError):  # and nothing after them: "second" went out once
        await collect(topic, count=3, timeout=3, bootstrap=kafka_bootstrap)
