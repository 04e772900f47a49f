"""Background jobs on a fixed period: retention passes, routing's look at its queue."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

__all__ = ["every"]

log = logging.getLogger(__name__)


async def every(seconds: float, job: Callable[[], None], *, name: str) -> None:
    """Run the blocking ``job`` in a worker thread now and then every ``seconds``, until cancelled.

    A failing run (say, the database restarting) is logged with ``name`` and the error class only,
    never the message, which may quote data; the next run comes at the next tick as usual.
    """
    while True:
        try:
            await asyncio.to_thread(job)
        except Exception as exc:  # noqa: BLE001 - keep the schedule; the next run catches up
            log.warning("periodic job failed", extra={"job": name, "error": exc.__class__.__name__})
        await asyncio.sleep(seconds)
