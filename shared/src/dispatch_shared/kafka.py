"""Kafka plumbing on aiokafka: topic creation, a producer that survives outages, a readiness probe."""

from __future__ import annotations

import asyncio
import logging

from aiokafka import AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.errors import KafkaError

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
    await asyncio.wait_for(admin.start(), timeout)
    try:
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


class KafkaLink:
    """An idempotent producer that (re)connects in the background, so a service starts without Kafka.

    Callers check ``connected`` or await ``wait_connected``; the outbox relay is the only writer.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        *,
        client_id: str,
        partitions: int,
        replication_factor: int = 1,
        namespace: str = "",
    ) -> None:
        self.bootstrap_servers = bootstrap_servers
        self.client_id = client_id
        self.partitions = partitions
        self.replication_factor = replication_factor
        self.namespace = namespace
        self._producer: AIOKafkaProducer | None = None
        self._connected = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def topic_name(self, topic: str) -> str:
        """The Kafka topic that carries contract ``topic`` in this link's namespace."""
        return self.namespace + topic

    def contract_topic(self, name: str) -> Topic:
        """The contract topic behind a namespaced Kafka topic name."""
        return Topic(name.removeprefix(self.namespace))

    @property
    def connected(self) -> bool:
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
        self._task = asyncio.create_task(self._connect_forever(), name="kafka-connect")

    async def _connect_forever(self) -> None:
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
                await producer.start()
            except (KafkaError, OSError, TimeoutError) as exc:
                await producer.stop()
                log.warning(
                    "kafka unreachable, retrying",
                    extra={"error": exc.__class__.__name__, "retry_in_s": delay},
                )
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                continue
            self._producer = producer
            self._connected.set()
            KAFKA_CONNECTED.set(1)
            log.info("kafka connected", extra={"bootstrap": self.bootstrap_servers})
            return

    async def send_batch(self, messages: list[KafkaMessage]) -> None:
        """Send messages in order and wait until Kafka acknowledged every one (acks=all)."""
        if self._producer is None:
            raise KafkaError("not connected")
        futures = [
            await self._producer.send(m.topic, value=m.value, key=m.key, headers=m.headers) for m in messages
        ]
        await asyncio.gather(*futures)

    async def ping(self, timeout: float = 2.0) -> None:
        """Raise unless a broker answers a metadata request within ``timeout`` seconds."""
        if self._producer is None:
            raise KafkaError("not connected")
        await asyncio.wait_for(self._producer.client.fetch_all_metadata(), timeout)

    async def stop(self) -> None:
        """Flush what is in flight and close."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
        if self._producer is not None:
            await self._producer.stop()
        KAFKA_CONNECTED.set(0)
