"""Background jobs on a fixed period: retention passes, routing's look at its queue.

A service registers its jobs with ``PeriodicJobs`` (its ``ServiceRuntime`` holds one) while it is
built; they run from the runtime's start until its stop, which cancels them and waits for each.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from functools import partial
from typing import Any

__all__ = ["PeriodicJobs", "every", "stop_jobs"]

log = logging.getLogger(__name__)


async def every(seconds: float, job: Callable[[], object], *, name: str) -> None:
    """Run the blocking ``job`` in a worker thread now and then every ``seconds``, until cancelled.

    A failing run (say, the database restarting) is logged with ``name`` and the error class only,
    never the message, which may quote data; the next run comes at the next tick as usual.
    Cancelled while a run is under way, it waits for that run to end before it stops: a thread
    cannot be interrupted, and one still holding a database connection when the engine is
    disposed would leave that connection open.
    """
    while True:
        run = asyncio.ensure_future(asyncio.to_thread(job))
        try:
            await asyncio.shield(run)
        except asyncio.CancelledError:
            await asyncio.wait({run})
            raise
        except Exception as exc:  # noqa: BLE001 - keep the schedule; the next run catches up
            log.warning("periodic job failed", extra={"job": name, "error": exc.__class__.__name__})
        await asyncio.sleep(seconds)


async def stop_jobs(*jobs: asyncio.Task[None]) -> None:
    """Cancel background jobs and wait until each has stopped (its current run included)."""
    for job in jobs:
        job.cancel()
    await asyncio.gather(*jobs, return_exceptions=True)


class PeriodicJobs:
    """The background jobs of one service: registered while it is built, run from ``start`` to ``stop``."""

    def __init__(self) -> None:
        self._planned: list[tuple[str, Callable[[], Coroutine[Any, Any, None]]]] = []
        self._running: list[asyncio.Task[None]] = []

    def every(self, seconds: float, job: Callable[[], object], *, name: str) -> None:
        """Run the blocking ``job`` every ``seconds`` while the service runs (see ``every``)."""
        self.add(partial(every, seconds, job, name=name), name=name)

    def add(self, loop: Callable[[], Coroutine[Any, Any, None]], *, name: str) -> None:
        """Run ``loop()``, a coroutine that repeats until cancelled, while the service runs."""
        self._planned.append((name, loop))

    def start(self) -> None:
        """Start every registered job as a task of the running event loop."""
        self._running = [asyncio.create_task(loop(), name=name) for name, loop in self._planned]

    async def stop(self) -> None:
        """Cancel the running jobs and wait until each has stopped (``stop_jobs``)."""
        running, self._running = self._running, []
        await stop_jobs(*running)
