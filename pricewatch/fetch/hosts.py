"""Per-host politeness: at most N requests in flight to one host, and a minimum gap between
the starts of two requests to it. Different hosts never wait for each other.

The global slot (the process-wide concurrency limit) is taken only after the host's delay has
passed, so a request waiting for a slow or rate-limited host holds nothing other hosts need.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    delay: float
    next_start: float = 0.0
    gate: asyncio.Lock = field(default_factory=asyncio.Lock)


class HostLimiter:
    """Hands out per-host slots; ``delay`` may be raised later (robots.txt Crawl-delay).
    ``clock`` and ``sleep`` are seams for tests, which check the delay rule in fake time."""

    def __init__(self, *, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], Awaitable[None]] = asyncio.sleep) -> None:
        self._hosts: dict[str, _Host] = {}
        self._clock = clock
        self._sleep = sleep
        self._floors: dict[str, float] = {}  # delays raised before the host's first request

    def _host(self, host: str, concurrency: int, delay: float) -> _Host:
        entry = self._hosts.get(host)
        if entry is None:
            entry = _Host(asyncio.Semaphore(concurrency), max(delay, self._floors.get(host, 0.0)))
            self._hosts[host] = entry
        return entry

    def raise_delay(self, host: str, delay: float) -> None:
        """Make ``host``'s delay at least ``delay`` (never lowers a configured delay)."""
        self._floors[host] = max(delay, self._floors.get(host, 0.0))
        entry = self._hosts.get(host)
        if entry is not None and delay > entry.delay:
            entry.delay = delay

    def delay_of(self, host: str) -> float | None:
        entry = self._hosts.get(host)
        return None if entry is None else entry.delay

    @asynccontextmanager
    async def slot(
        self,
        host: str,
        *,
        concurrency: int,
        delay: float,
        shared: asyncio.Semaphore | None = None,
    ) -> AsyncIterator[None]:
        """Wait for a free slot on ``host``, for its delay since the last start, then for a
        ``shared`` (global) slot; hold them for the body of the ``async with``."""
        entry = self._host(host, concurrency, delay)
        async with entry.semaphore:
            async with entry.gate:  # serialises the delay bookkeeping, not the requests
                wait = entry.next_start - self._clock()
                if wait > 0:
                    await self._sleep(wait)
                if shared is not None:
                    await shared.acquire()
                entry.next_start = self._clock() + entry.delay
            try:
                yield
            finally:
                if shared is not None:
                    shared.release()
