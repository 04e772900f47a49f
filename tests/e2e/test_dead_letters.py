"""Records that are not our contract go to their dead-letter topic, and the services carry on.

Each consumed topic gets the same poison: a CloudEvents header with a null value, a header value
that is not UTF-8, a header name that is not UTF-8 (the client cannot even parse that record), a
structured-mode event and garbage bytes. Every one must land on ``<topic>.dlq`` once per consumer
group reading the topic, with a ``dlq_error`` header, and a call posted afterwards must be routed.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any
from uuid import uuid4

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from dispatch_shared.cloudevents import encode
from dispatch_shared.events import (
    CallReceived,
    CallStatus,
    Event,
    Topic,
    dead_letter_topic,
    utcnow,
)

from tests.e2e.conftest import Stack
from tests.factories import routed, status_changed, submission, triaged
from tests.stack import auth, collect

pytestmark = pytest.mark.e2e

# Which consumer groups read each topic: a poison record is dead-lettered once per group.
READERS = {
    Topic.CALLS_RECEIVED: ("triage",),
    Topic.CALLS_TRIAGED: ("intake", "routing"),
    Topic.CALLS_ROUTED: ("intake",),
    Topic.CALLS_STATUS: ("intake",),
}
POISON = ("null_header", "header_not_utf8", "structured", "garbage", "header_name_not_utf8")

# Produces one record whose header *name* is not UTF-8 per topic given on the command line. The C
# record builder refuses such a name, so this runs with aiokafka's pure-Python builder, which
# encodes names by calling their ``encode``; other Kafka clients send such bytes as they are.
BAD_HEADER_NAME_PRODUCER = """
import asyncio, sys
from aiokafka import AIOKafkaProducer

class RawName(str):
    def encode(self, *args, **kwargs):
        return b"ce_\\xff\\xfe"

async def main(bootstrap, topics):
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic in topics:
            headers = [("ce_specversion", b"1.0"), (RawName("x"), b"v")]
            await (await producer.send(topic, b"{}", key=topic.encode(), headers=headers))
    finally:
        await producer.stop()

asyncio.run(main(sys.argv[1], sys.argv[2:]))
"""


def sample_event(topic: Topic) -> Event:
    """A valid event of ``topic`` about a call nobody has."""
    call_id = uuid4()
    if topic is Topic.CALLS_RECEIVED:
        return CallReceived(call_id=call_id, cad_incident_id="CAD-X", narrative="n", received_at=utcnow())
    if topic is Topic.CALLS_TRIAGED:
        return triaged(call_id)
    if topic is Topic.CALLS_ROUTED:
        return routed(call_id)
    return status_changed(call_id, CallStatus.EN_ROUTE, utcnow())


def poison_records(topic: Topic) -> list[tuple[str, bytes, bytes, list[tuple[str, bytes | None]]]]:
    """(kind, key, value, headers) of each poison record the test producer can send for ``topic``."""
    records = []
    for kind in POISON[:-1]:
        message = encode(sample_event(topic), source="/test")
        headers: list[tuple[str, bytes | None]] = list(message.headers)
        key, value = message.key, message.value
        assert key is not None and value is not None  # every event of ours has both
        if kind == "null_header":
            headers = [(name, None if name == "ce_source" else raw) for name, raw in headers]
        elif kind == "header_not_utf8":
            headers = [
                (name, b"\xff\xfe" + (raw or b"") if name == "ce_type" else raw) for name, raw in headers
            ]
        elif kind == "structured":
            attrs: dict[str, object] = {
                name.removeprefix("ce_"): raw.decode()
                for name, raw in message.headers
                if name.startswith("ce_") and raw is not None
            }
            attrs |= {"datacontenttype": "application/json", "data": json.loads(value)}
            value = json.dumps(attrs).encode()
            headers = [("content-type", b"application/cloudevents+json")]
        else:
            value = bytes(range(256))
        records.append((kind, key, value, headers))
    return records


async def send_poison(bootstrap: str, namespace: str) -> dict[str, str]:
    """Send every poison record to every consumed topic; the kind of each, by key."""
    kinds: dict[str, str] = {}
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for topic in READERS:
            for kind, key, value, headers in poison_records(topic):
                kinds[key.decode()] = kind
                await (await producer.send(namespace + topic, value, key=key, headers=headers))
    finally:
        await producer.stop()
    topics = [namespace + topic for topic in READERS]
    subprocess.run(  # noqa: S603 - our own interpreter and script
        [sys.executable, "-c", BAD_HEADER_NAME_PRODUCER, bootstrap, *topics],
        env={**os.environ, "AIOKAFKA_NO_EXTENSIONS": "1"},
        check=True,
        timeout=60,
    )
    return kinds


def wait_until_routed(client: httpx.Client, call_id: str, timeout: float = 60) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    record: dict[str, Any] = {}
    while time.monotonic() < deadline:
        record = client.get(f"/v1/calls/{call_id}", headers=auth("console")).json()
        if record.get("status") in {"assigned", "queued"}:
            return record
        time.sleep(0.3)
    raise AssertionError(f"call never routed: status {record.get('status')}")


async def test_poison_on_every_consumed_topic_is_dead_lettered_and_calls_still_flow(
    stack: Stack, kafka_bootstrap: str
) -> None:
    kinds = await send_poison(kafka_bootstrap, stack.namespace)

    for topic, readers in READERS.items():
        source = stack.namespace + topic
        expected = len(POISON) * len(readers)
        dead = await collect(dead_letter_topic(source), count=expected, timeout=90)
        assert len(dead) == expected, f"{topic}: more dead letters than poison records"
        seen: Counter[tuple[str, str]] = Counter()
        for record in dead:
            headers = dict(record.headers)
            assert headers["dlq_original_topic"] == source.encode()
            assert headers["dlq_error"], f"{topic}: empty dlq_error"
            group = headers["dlq_consumer_group"].decode().removeprefix(stack.namespace + "dispatch-")
            kind = kinds.get(record.key.decode(), "header_name_not_utf8")
            seen[(group, kind)] += 1
            if kind == "null_header":  # the original headers travel along, null value included
                assert ("ce_source", None) in record.headers
            if kind == "garbage":
                assert record.value == bytes(range(256))
        assert seen == Counter({(group, kind): 1 for group in readers for kind in POISON}), topic

    with httpx.Client(base_url=stack["intake"].url, timeout=10) as client:
        posted = client.post("/v1/calls", json=submission(), headers=auth("cad"))
        assert posted.status_code == 202, posted.text
        wait_until_routed(client, posted.json()["call_id"])

    for name in ("intake", "triage", "routing"):
        ready = await asyncio.to_thread(httpx.get, f"{stack[name].url}/readyz", timeout=5)
        assert ready.status_code == 200, (name, ready.text)
        assert ready.json()["checks"]["consumer"] == "ok"
    assert "consumer loop died" not in stack.logs()
