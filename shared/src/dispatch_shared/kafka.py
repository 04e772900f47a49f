"""Kafka plumbing on aiokafka: topic creation, a producer that survives outages, a readiness probe."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError

from dispatch_shared.cloudevents import KafkaMessage
from dispatch_shared.events import Topic, dead_letter_topic
from dispatch_shared.metrics import KAFKA_CONNECTED

log = logging.getLogger(__name__)


def all_topics(namespace: str = "") -> list[str]:
    """Every topic of the contract and its dead-letter topic, under ``namespace``."""
    return [namespace + name for topic in Topic for name in (topic.value, dead_letter_topic(topic.value))]


async def ensure_topics(
    bootstrap_servers: str,
    *,
    partitions: int,
    replication_factor: int = 1,
    namespace: str = "",
    timeout: float = 10,
) -> None:
    """Create any missing contract topic; auto-creation is off on our brokers on purpose."""
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap_servers, request_timeout_ms=10_000)
    try:  # start() inside: a start that times out may already hold a connection
        await asyncio.wait_for(admin.start(), timeout)
        existing = set(await admin.list_topics())
        missing = [
            NewTopic(
                name=name,
                num_partitions=1 if name.endswith(".dlq") else partitions,  # dead letters are rare
                replication_factor=replication_factor,
            )
            for name in all_topics(namespace)
            if name not in existing
        ]
        if missing:
            await admin.create_topics(missing)
            log.info("created topics", extra={"topics": [t.name for t in missing]})
    finally:
        await admin.close()


PROBE_TIMEOUT_S = 2.0  # a metadata request slower than this counts as "not connected"
RECONNECT_MAX_DELAY_S = 10.0


@dataclass(frozen=True)
class Delivery:
    """The outcome of one ``KafkaLink.deliver``.

    ``acknowledged[i]`` is True when the broker acknowledged message ``i`` (acks=all) within the
    delivery timeout; ``error`` is the first failure (a ``KafkaError``), None when all were.
    """

    acknowledged: tuple[bool, ...]
    error: KafkaError | None = None

    @property
    def count(self) -> int:
        """How many messages the broker acknowledged."""
        return sum(self.acknowledged)


def _acknowledged(future: asyncio.Future[Any]) -> bool:
    return future.done() and not future.cancelled() and future.exception() is None


def _retrieve(future: asyncio.Future[Any]) -> None:
    # A batch abandoned after its delivery timed out fails later, when its producer closes; nobody
    # awaits it any more, so read its exception here rather than have asyncio report it as lost.
    if not future.cancelled():
        future.exception()


class KafkaLink:
    """An idempotent producer, kept connected and replaced when it breaks; a service starts without Kafka.

    A background task opens the producer (retrying with backoff while Kafka is away), then probes
    the cluster every ``probe_seconds`` with a metadata request: ``connected`` and the
    ``dispatch_kafka_connected`` gauge follow the probe. A delivery that fails or times out
    retires the producer and opens a new one (a new producer id), because aiokafka's idempotent
    producer never recovers from a broken sequence (OutOfOrderSequenceNumber after a rejected
    batch, aio-libs/aiokafka#1017) and waits forever for a broker that is away (#1101).
    The outbox relay is the main writer; the consumer sends dead letters through ``send_batch``.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        partitions: int,
        replication_factor: int = 1,
        namespace: str = "",
        delivery_timeout: float = 30.0,
        probe_seconds: float = 2.0,
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.namespace = namespace
        self.delivery_timeout = delivery_timeout
        self.probe_seconds = probe_seconds
        self._producer: AIOKafkaProducer | None = None
        self._connected = asyncio.Event()
        self._replace = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def topic_name(self, topic: str) -> str:
        """The Kafka topic that carries contract ``topic`` in this link's namespace."""
        return self.namespace + topic

    def contract_topic(self, name: str) -> Topic:
        """The contract topic behind a namespaced Kafka topic name."""
        return Topic(name.removeprefix(self.namespace))

    @property
    def connected(self) -> bool:
        """True while a started producer exists and the last probe or delivery reached the cluster."""
        return self._connected.is_set()

    async def wait_connected(self, timeout: float | None = None) -> bool:
        """Wait until connected; False on timeout."""
        try:
            await asyncio.wait_for(self._connected.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def start(self) -> None:
        """Begin connecting in the background."""
        self._task = asyncio.create_task(self._supervise(), name="kafka-link")

    def _mark(self, connected: bool) -> None:
        if connected == self.connected:
            return
        if connected:
            self._connected.set()
            log.info("kafka connected", extra={"bootstrap": self.bootstrap_servers})
        else:
            self._connected.clear()
            log.warning("kafka not connected", extra={"bootstrap": self.bootstrap_servers})
        KAFKA_CONNECTED.set(1 if connected else 0)

    async def _supervise(self) -> None:
        while True:
            producer = await self._open()
            self._producer = producer
            self._mark(True)
            await self._watch(producer)
            # A delivery failed: retire this producer before opening the next, so none of its
            # batches can land after the new producer's.
            self._producer = None
            self._mark(False)
            await _close(producer, timeout=5.0)

    async def _open(self) -> AIOKafkaProducer:
        delay = 0.5
        while True:
            producer = AIOKafkaProducer(
                bootstrap_servers=self.bootstrap_servers,
                client_id=self.client_id,
                enable_idempotence=True,
                acks="all",
                request_timeout_ms=15_000,
                linger_ms=2,
            )
            try:
                await ensure_topics(
                    self.bootstrap_servers,
                    partitions=self.partitions,
                    replication_factor=self.replication_factor,
                    namespace=self.namespace,
                )
                # start() waits for a producer id as long as it takes; a flapping broker must
                # not hold the link here forever.
                await asyncio.wait_for(producer.start(), max(self.delivery_timeout, 5.0))
                return producer
            except (KafkaError, OSError, TimeoutError) as exc:
                log.warning(
                    "kafka unreachable, retrying",
                    extra={"error": exc.__class__.__name__, "retry_in_s": delay},
                )
            except BaseException:
                await _close(producer, timeout=1.0)
                raise
            await _close(producer, timeout=1.0)
            await asyncio.sleep(delay)
            delay = min(delay * 2, RECONNECT_MAX_DELAY_S)

    async def _watch(self, producer: AIOKafkaProducer) -> None:
        """Probe the cluster until a failed delivery asks for a new producer."""
        while True:
            try:
                await asyncio.wait_for(self._replace.wait(), self.probe_seconds)
            except TimeoutError:
                reachable = await _reachable(producer)
                if not self._replace.is_set():  # a delivery may have retired it meanwhile
                    self._mark(reachable)
            else:
                self._replace.clear()
                return

    def _retire(self, producer: AIOKafkaProducer) -> None:
        """Stop using ``producer`` now and have the background task replace it."""
        if producer is self._producer:
            self._mark(False)
            self._replace.set()

    async def deliver(self, messages: Sequence[KafkaMessage], *, timeout: float | None = None) -> Delivery:
        """Send ``messages`` in order and report which the broker acknowledged (acks=all).

        Waits at most ``timeout`` seconds (the link's delivery timeout when None, and never
        longer). Messages after one that could not be queued are not sent, so none overtakes it.
        Any failure or timeout retires the producer; the next delivery uses a new one once
        ``connected`` is True again. Never raises for Kafka failures: they are in ``error``.
        """
        producer = self._producer
        if producer is None or not self.connected:
            return Delivery((False,) * len(messages), KafkaConnectionError("not connected to Kafka"))
        loop = asyncio.get_running_loop()
        budget = self.delivery_timeout if timeout is None else min(timeout, self.delivery_timeout)
        deadline = loop.time() + max(budget, 0.0)
        futures: list[asyncio.Future[Any]] = []
        error: KafkaError | None = None
        try:
            async with asyncio.timeout_at(deadline):
                for m in messages:
                    futures.append(await producer.send(m.topic, value=m.value, key=m.key, headers=m.headers))
        except KafkaError as exc:
            error = exc
        except TimeoutError:
            error = KafkaTimeoutError(f"could not queue the batch within {budget:g}s")
        for future in futures:
            future.add_done_callback(_retrieve)
        if futures:
            await asyncio.wait(futures, timeout=max(deadline - loop.time(), 0.0))
        acknowledged = tuple(_acknowledged(f) for f in futures) + (False,) * (len(messages) - len(futures))
        if error is None:
            error = next((_failure(f) for f in futures if not _acknowledged(f)), None)
        if error is not None:
            self._retire(producer)
        elif producer is self._producer:
            self._mark(True)
        return Delivery(acknowledged, error)

    async def send_batch(self, messages: Sequence[KafkaMessage]) -> None:
        """Send messages in order and wait until Kafka acknowledged every one (acks=all).

        Raises ``KafkaError`` unless all were acknowledged within the delivery timeout.
        """
        delivery = await self.deliver(messages)
        if delivery.error is not None:
            raise delivery.error

    async def ping(self, timeout: float = 2.0) -> None:
        """Raise unless a broker answers a metadata request within ``timeout`` seconds."""
        if self._producer is None:
            raise KafkaError("not connected")
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)

    async def stop(self, timeout: float = 5.0) -> None:
        """Close within about ``timeout`` seconds, broker or not.

        Batches not yet acknowledged are abandoned: their outbox rows are still unsent and go
        out after the next start.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.wait({self._task}, timeout=timeout)
        producer, self._producer = self._producer, None
        graceful = self.connected
        self._mark(False)
        KAFKA_CONNECTED.set(0)
        if producer is not None:
            await _close(producer, timeout=max(deadline - loop.time(), 0.5), graceful=graceful)


def _failure(future: asyncio.Future[Any]) -> KafkaError:
    if not future.done() or future.cancelled():
        return KafkaTimeoutError("not acknowledged within the delivery timeout")
    exc = future.exception()
    return exc if isinstance(exc, KafkaError) else KafkaError(repr(exc))


async def _reachable(producer: AIOKafkaProducer) -> bool:
    """True when a broker answers a metadata request within PROBE_TIMEOUT_S."""
    try:
        await asyncio.wait_for(producer.client.fetch_all_metadata(), PROBE_TIMEOUT_S)
    except (KafkaError, OSError, TimeoutError):
        return False
    return True


async def _close(producer: AIOKafkaProducer, *, timeout: float, graceful: bool = False) -> None:
    """Close ``producer`` within ``timeout`` seconds, abandoning the batches it still holds.

    ``graceful``: first give pending batches up to a third of the time to be acknowledged.
    ``AIOKafkaProducer.stop()`` waits for every pending batch, which with an idempotent producer
    and no broker is forever (aio-libs/aiokafka#1101), and aiokafka has no public way to drop
    them (failing them by hand trips its own bookkeeping). So its send loop is stopped and its
    connections closed, as ``stop()`` does after the wait; abandoned batches stay unresolved, and
    whoever waited on them has its own timeout (``KafkaLink.deliver``).
    """
    try:
        async with asyncio.timeout(timeout):
            if graceful:
                try:
                    await asyncio.wait_for(producer.flush(), timeout / 3)
                except TimeoutError:
                    pass
            sender = getattr(producer, "_sender", None)
            if sender is not None:
                await sender.close()
    except TimeoutError:
        log.warning("kafka producer did not close in time", extra={"timeout_s": timeout})
    except Exception as exc:  # noqa: BLE001 - closing must not stop a shutdown or a reconnect
        log.warning("kafka producer closed with an error", extra={"error": exc.__class__.__name__})
    finally:
        producer._closed = True  # as stop() marks it; without it aiokafka warns of an unclosed producer
        # The sockets are closed whatever happened above, even when cancelled: a connection
        # left open is a leaked file descriptor for as long as the process runs.
        await asyncio.shield(_close_connections(producer))


async def _close_connections(producer: AIOKafkaProducer) -> None:
    try:
        await asyncio.wait_for(producer.client.close(), 1.0)
    except Exception as exc:  # noqa: BLE001 - as above
        log.warning("kafka connections closed with an error", extra={"error": exc.__class__.__name__})
