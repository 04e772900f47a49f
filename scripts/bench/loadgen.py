"""The load generator: HTTP/1.1 keep-alive POSTs from worker processes, open or closed loop.

Each worker process runs one uvloop event loop with a pool of persistent connections; requests
are written by hand and responses parsed by ``httptools`` (the C parser uvicorn uses), which costs
a fraction of what ``httpx`` does per request, so the generator stays well below the servers it
drives. Workers share ``time.monotonic()`` with the parent (CLOCK_MONOTONIC is system-wide), so
send times and the parent's Kafka receive times are on one clock.

Open loop (``run_open``): call ``k`` is due at ``start_at + k / rate`` and is sent then whatever
earlier calls are doing; latency is measured from that due time, so a stall shows up in the
figures instead of slowing the schedule (no coordinated omission). Closed loop (``run_closed``):
``concurrency`` connections post back to back for a fixed window.
"""

from __future__ import annotations

import asyncio
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import cast

import httptools
import uvloop

DEV_CALLS = Path(__file__).resolve().parents[2] / "tests" / "data" / "dev_calls.jsonl"
# Around central Seattle, where the demo roster (deploy/local/units.json) stands.
BASE_LAT, BASE_LON = 47.61, -122.33


@dataclass(frozen=True)
class Target:
    """Where to post: ``host``:``port`` and path, with a bearer ``api_key`` (empty: none)."""

    host: str
    port: int
    api_key: str
    path: str = "/v1/calls"


@dataclass(frozen=True)
class OpenSpec:
    """One worker's share of an open-loop phase.

    The phase offers ``rate`` calls/s in total for ``duration`` s from ``start_at`` (monotonic s);
    this worker sends calls ``index, index + workers, ...``. Responses still outstanding ``grace``
    s after the schedule ends are given up; at most ``max_connections`` are open at once.
    """

    target: Target
    tag: str
    rate: float
    duration: float
    start_at: float
    index: int
    workers: int
    grace: float = 10.0
    max_connections: int = 256


@dataclass(frozen=True)
class ClosedSpec:
    """One worker's share of a closed-loop phase: ``concurrency`` connections posting back to back
    from ``start_at`` for ``warmup + window`` s; only responses inside the window are counted."""

    target: Target
    tag: str
    concurrency: int
    start_at: float
    warmup: float
    window: float
    index: int


@dataclass
class Sent:
    """One request: when it was due and answered (monotonic s), HTTP status (0: no answer), call id."""

    due: float
    done: float | None
    status: int
    call_id: str | None


@dataclass
class WorkerResult:
    """What a worker did: its requests, how many it never managed to send, its CPU use (0-1)."""

    sent: list[Sent] = field(default_factory=list)
    unsent: int = 0
    cpu_busy: float = 0.0
    window_ok: int = 0


def _calls() -> list[dict[str, str]]:
    """The dev calls' narratives and call types (some have only a call type), as CAD sends them."""
    calls = []
    with DEV_CALLS.open(encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                call = json.loads(line)
                calls.append({k: call[k] for k in ("narrative", "call_type") if call.get(k)})
    return calls


def _request_bytes(target: Target, body: bytes) -> bytes:
    head = [
        f"POST {target.path} HTTP/1.1",
        f"Host: {target.host}:{target.port}",
        "Content-Type: application/json",
        "Accept: application/json",
        f"Content-Length: {len(body)}",
    ]
    if target.api_key:
        head.append(f"Authorization: Bearer {target.api_key}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


class Payloads:
    """Call submissions with unique CAD ids and realistic narratives, ready to write."""

    def __init__(self, target: Target, tag: str) -> None:
        self.target = target
        self.tag = tag
        self.calls = _calls()

    def request(self, number: int) -> bytes:
        offset = (number % 97) / 1000
        body = {
            "cad_incident_id": f"{self.tag}-{number}",
            **self.calls[number % len(self.calls)],
            "location": {"lat": round(BASE_LAT + offset, 5), "lon": round(BASE_LON - offset, 5)},
        }
        return _request_bytes(self.target, json.dumps(body).encode())


class ConnectionLost(Exception):
    """The server closed the connection before answering."""


class _Connection(asyncio.Protocol):
    """One keep-alive HTTP/1.1 connection carrying one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.body = bytearray()
        self.waiter: asyncio.Future[tuple[int, bytes]] | None = None
        self.open = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.Transport, transport)  # uvloop's is not a subclass
        self.open = True

    def connection_lost(self, exc: Exception | None) -> None:
        self.open = False
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_exception(ConnectionLost())

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            if self.waiter is not None and not self.waiter.done():
                self.waiter.set_exception(exc)
            self.close()

    # httptools callbacks
    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        if self.waiter is not None and not self.waiter.done():
            self.waiter.set_result((self.parser.get_status_code(), bytes(self.body)))
        self.body.clear()
        if not self.parser.should_keep_alive():
            self.close()

    def request(self, data: bytes) -> asyncio.Future[tuple[int, bytes]]:
        assert self.transport is not None
        self.waiter = asyncio.get_running_loop().create_future()
        self.transport.write(data)
        return self.waiter

    def close(self) -> None:
        self.open = False
        if self.transport is not None:
            self.transport.close()


class Pool:
    """At most ``limit`` connections to ``target``; the most recently used idle one is reused."""

    def __init__(self, target: Target, limit: int) -> None:
        self.target = target
        self.limit = limit
        self.idle: list[_Connection] = []
        self.count = 0
        self.freed = asyncio.Condition()

    async def _acquire(self) -> _Connection:
        async with self.freed:
            while True:
                while self.idle:
                    connection = self.idle.pop()
                    if connection.open:
                        return connection
                    self.count -= 1
                if self.count < self.limit:
                    self.count += 1
                    break
                await self.freed.wait()
        try:
            _, connection = await asyncio.get_running_loop().create_connection(
                _Connection, self.target.host, self.target.port
            )
        except BaseException:
            async with self.freed:
                self.count -= 1
                self.freed.notify()
            raise
        return connection

    async def _release(self, connection: _Connection) -> None:
        async with self.freed:
            if connection.open:
                self.idle.append(connection)
            else:
                self.count -= 1
            self.freed.notify()

    async def post(self, data: bytes) -> tuple[int, bytes]:
        """Send one request; a connection the server had closed is retried once on a fresh one
        (intake is idempotent on the CAD id, so a repeat is harmless)."""
        for attempt in (1, 2):
            connection = await self._acquire()
            try:
                return await connection.request(data)
            except ConnectionLost:
                if attempt == 2:
                    raise
            finally:
                await self._release(connection)
        raise AssertionError("unreachable")

    def close(self) -> None:
        for connection in self.idle:
            connection.close()


def _call_id(status: int, body: bytes) -> str | None:
    if status not in (200, 202):
        return None
    try:
        value = json.loads(body).get("call_id")
    except ValueError:
        return None
    return str(value) if value else None


async def _open_loop(spec: OpenSpec) -> WorkerResult:
    payloads = Payloads(spec.target, f"{spec.tag}-w{spec.index}")
    pool = Pool(spec.target, spec.max_connections)
    result = WorkerResult()
    total = int(spec.rate * spec.duration)
    numbers = range(spec.index, total, spec.workers)
    tasks: list[asyncio.Task[None]] = []

    async def one(number: int, due: float) -> None:
        record = Sent(due=due, done=None, status=0, call_id=None)
        result.sent.append(record)
        try:
            status, body = await pool.post(payloads.request(number))
        except (OSError, ConnectionLost, httptools.HttpParserError):
            return
        record.done = time.monotonic()
        record.status = status
        record.call_id = _call_id(status, body)

    cpu_start, wall_start = time.process_time(), time.monotonic()
    for number in numbers:
        due = spec.start_at + number / spec.rate
        delay = due - time.monotonic()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(number, due)))
    if tasks:
        _, pending = await asyncio.wait(tasks, timeout=spec.grace)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    result.unsent = len(numbers) - len(result.sent)
    result.cpu_busy = (time.process_time() - cpu_start) / max(time.monotonic() - wall_start, 1e-9)
    pool.close()
    return result


async def _closed_loop(spec: ClosedSpec) -> WorkerResult:
    payloads = Payloads(spec.target, f"{spec.tag}-w{spec.index}")
    pool = Pool(spec.target, spec.concurrency)
    result = WorkerResult()
    window_start = spec.start_at + spec.warmup
    end = window_start + spec.window
    counter = iter(range(10**9))
    await asyncio.sleep(max(spec.start_at - time.monotonic(), 0))
    cpu_start, wall_start = time.process_time(), time.monotonic()

    async def client() -> None:
        while (now := time.monotonic()) < end:
            try:
                status, body = await pool.post(payloads.request(next(counter)))
            except (OSError, ConnectionLost, httptools.HttpParserError):
                await asyncio.sleep(0.05)
                continue
            done = time.monotonic()
            call_id = _call_id(status, body)
            result.sent.append(Sent(due=now, done=done, status=status, call_id=call_id))
            if window_start <= done < end and call_id is not None:
                result.window_ok += 1

    clients = [asyncio.create_task(client()) for _ in range(spec.concurrency)]
    # A request in flight at the end must not hold the phase up for long.
    _, pending = await asyncio.wait(clients, timeout=spec.warmup + spec.window + 10)
    for task in pending:
        task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)
    result.cpu_busy = (time.process_time() - cpu_start) / max(time.monotonic() - wall_start, 1e-9)
    pool.close()
    return result


def run_open(spec: OpenSpec) -> WorkerResult:
    """Run one worker's open-loop share (in a worker process); returns its requests."""
    return uvloop.run(_open_loop(spec))


def run_closed(spec: ClosedSpec) -> WorkerResult:
    """Run one worker's closed-loop share (in a worker process); returns its requests."""
    return uvloop.run(_closed_loop(spec))


def warm() -> float:
    """A no-op a fresh worker process runs once, so its imports are done before timing starts."""
    return time.monotonic()
