"""Per-key rate limiting: a token bucket per API key, answering 429 with Retry-After."""

from __future__ import annotations

import hashlib
import math
import threading
import time
from collections.abc import Callable

from fastapi import HTTPException, Request

from dispatch_shared.auth import presented_key


class RateLimiter:
    """Token buckets refilled at ``per_minute`` per key, holding at most ``burst`` tokens."""

    def __init__(
        self, per_minute: int, *, burst: int | None = None, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = float(burst if burst is not None else max(1, per_minute // 6))
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()  # routes run in a thread pool

    def acquire(self, key: str) -> float:
        """Take a token for ``key``: 0 when allowed, else the seconds until one is free."""
        now = self.clock()
        with self._lock:
            tokens, last = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - last) * self.rate)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) / self.rate


def rate_limited(request: Request) -> None:
    """A dependency that spends one token of the caller's key, or answers 429."""
    limiter: RateLimiter | None = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:
        return
    # Buckets are keyed by a digest so the limiter never holds keys in memory as given.
    key = hashlib.sha256((presented_key(request) or "").encode()).hexdigest()
    wait = limiter.acquire(key)
    if wait > 0:
        raise HTTPException(
            status_code=429,
            detail="too many requests for this key",
            headers={"Retry-After": str(math.ceil(wait))},
        )
