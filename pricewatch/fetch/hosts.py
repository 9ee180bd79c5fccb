"""Per-host politeness: at most N requests in flight to one host, and a minimum gap between
the starts of two requests to it. Different hosts never wait for each other."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field


@dataclass
class _Host:
    semaphore: asyncio.Semaphore
    delay: float
    next_start: float = 0.0
    gate: asyncio.Lock = field(default_factory=asyncio.Lock)


class HostLimiter:
    """Hands out per-host slots; ``delay`` may be raised later (robots.txt Crawl-delay)."""

    def __init__(self) -> None:
        self._hosts: dict[str, _Host] = {}

    def _host(self, host: str, concurrency: int, delay: float) -> _Host:
        entry = self._hosts.get(host)
        if entry is None:
            entry = _Host(asyncio.Semaphore(concurrency), delay)
            self._hosts[host] = entry
        return entry

    def raise_delay(self, host: str, delay: float) -> None:
        entry = self._hosts.get(host)
        if entry is not None and delay > entry.delay:
            entry.delay = delay

    def delay_of(self, host: str) -> float | None:
        entry = self._hosts.get(host)
        return None if entry is None else entry.delay

    @asynccontextmanager
    async def slot(self, host: str, *, concurrency: int, delay: float) -> AsyncIterator[None]:
        """Wait for a free slot on ``host`` and for its delay since the last start."""
        entry = self._host(host, concurrency, delay)
        async with entry.semaphore:
            async with entry.gate:  # serialises the delay bookkeeping, not the requests
                now = time.monotonic()
                wait = entry.next_start - now
                if wait > 0:
                    await asyncio.sleep(wait)
                    now = time.monotonic()
                entry.next_start = now + entry.delay
            yield
