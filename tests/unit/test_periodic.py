"""Periodic jobs: a failing run keeps the schedule, and stopping waits for the run under way."""

import asyncio
import threading
import time

import pytest
from dispatch_shared.periodic import every, stop_jobs


async def test_stopping_waits_for_the_run_under_way() -> None:
    started, finished = threading.Event(), threading.Event()

    def slow_job() -> None:  # as a purge holding a database connection would
        started.set()
        time.sleep(0.3)
        finished.set()

    job = asyncio.create_task(every(60, slow_job, name="slow"))
    while not started.is_set():
        await asyncio.sleep(0.01)
    await stop_jobs(job)
    assert finished.is_set()  # the run ended before stop_jobs returned
    assert job.cancelled()


async def test_a_failing_run_is_logged_and_the_next_one_comes(caplog: pytest.LogCaptureFixture) -> None:
    runs: list[int] = []

    def flaky() -> None:
        runs.append(1)
        if len(runs) == 1:
            raise ConnectionError("database restarting: secret text")

    job = asyncio.create_task(every(0.01, flaky, name="flaky"))
    while len(runs) < 3:
        await asyncio.sleep(0.01)
    await stop_jobs(job)
    [record] = [r for r in caplog.records if r.getMessage() == "periodic job failed"]
    assert (record.job, record.error) == ("flaky", "ConnectionError")  # type: ignore[attr-defined]
    assert "secret" not in caplog.text
