"""A service disposes of its engine only once work still running in threads has given back its
connections, so none is left open (and later garbage-collected) after shutdown."""

import asyncio
import threading
import time
from pathlib import Path

from dispatch_shared.db import make_engine
from dispatch_shared.runtime import _connections_returned
from sqlalchemy import text


async def test_shutdown_waits_for_a_connection_held_by_a_worker_thread(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    holding = threading.Event()

    def slow_query() -> None:  # cancelled work whose thread runs on, as a purge would
        with engine.connect() as connection:
            holding.set()
            time.sleep(0.3)
            connection.execute(text("select 1"))

    worker = asyncio.get_running_loop().run_in_executor(None, slow_query)
    while not holding.is_set():
        await asyncio.sleep(0.01)
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    await _connections_returned(engine, timeout=5)
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
    await worker
    engine.dispose()


async def test_shutdown_gives_up_after_its_timeout(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.db'}")
    connection = engine.connect()
    started = time.monotonic()
    await _connections_returned(engine, timeout=0.2)
    assert 0.2 <= time.monotonic() - started < 2
    connection.close()
    engine.dispose()
