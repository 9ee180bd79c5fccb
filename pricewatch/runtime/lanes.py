"""Admission of a scheduled check: first a slot of its host's lane, then a global slot.

The global slots (``http.concurrency``) bound the pages fetched but not yet parsed. A check that
took a global slot and then waited for its host let one slow shop hold all of them while its
checks queued for the shop's two connections, and every other shop starved. Here a check
waits for its host first, holding nothing others need, so a host only ever holds as many
global slots as its own lane is wide.

A host whose checks cannot start within ``wait`` seconds cannot keep up with its schedule: that
check is shed (counted, logged once a minute per host), and the next slot tries again.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

log = logging.getLogger(__name__)

SHED_LOG_EVERY = 60.0


@dataclass
class _Lane:
    slots: asyncio.Semaphore
    shed: int = 0  # checks shed since the last log line
    logged: float = float("-inf")


class Lanes:
    """Per-host lanes in front of one global semaphore."""

    def __init__(self, concurrency: int, *, on_shed: Callable[[str], None] | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._global = asyncio.Semaphore(concurrency)
        self._lanes: dict[str, _Lane] = {}
        self._on_shed = on_shed
        self._clock = clock

    def _lane(self, host: str, width: int) -> _Lane:
        lane = self._lanes.get(host)
        if lane is None:
            lane = self._lanes[host] = _Lane(asyncio.Semaphore(max(1, width)))
        return lane

    async def acquire(self, host: str, *, width: int, wait: float) -> bool:
        """Take a slot of ``host``'s lane (``width`` wide), then a global slot. False: the lane
        had no room within ``wait`` seconds and the check is shed (nothing is held)."""
        lane = self._lane(host, width)
        try:
            async with asyncio.timeout(wait):
                await lane.slots.acquire()
        except TimeoutError:
            self._shed(host, lane)
            return False
        try:
            await self._global.acquire()
        except BaseException:
            lane.slots.release()
            raise
        return True

    def release(self, host: str) -> None:
        """Give back what ``acquire`` took for ``host``."""
        self._global.release()
        self._lanes[host].slots.release()

    def _shed(self, host: str, lane: _Lane) -> None:
        lane.shed += 1
        if self._on_shed is not None:
            self._on_shed(host)
        now = self._clock()
        if now - lane.logged >= SHED_LOG_EVERY:
            log.warning("%s cannot keep up with its schedule: %d checks skipped (host backlog); "
                        "lower its offers' frequency or raise its per_host_concurrency",
                        host, lane.shed)
            lane.logged = now
            lane.shed = 0
