"""Background jobs on a fixed period: retention passes, routing's look at its queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

__all__ = ["every", "stop_jobs"]

log = logging.getLogger(__name__)


async def every(seconds: float, job: Callable[[], None], *, name: str) -> None:
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
