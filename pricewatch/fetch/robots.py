"""robots.txt per origin, fetched once and cached (RFC 9309 rules).

- 2xx: parsed with protego and honoured for our user agent; ``Crawl-delay`` is reported so the
  fetcher can raise the host's delay.
- 4xx (404, 403, ...): no rules; everything is allowed.
- 5xx, timeouts, connection errors: the host is treated as fully disallowed until a retry
  ``retry_unavailable`` seconds later (a copy cached earlier is kept and used meanwhile).
  When robots.txt could not be fetched because the host cannot be reached (refused, DNS, no
  connection in time), the verdict carries that outcome (``network_error``, ``timeout``): the
  shop is down, and saying "robots blocks" would send its owner looking in the wrong place.
Concurrent first requests to a host share one robots.txt fetch.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from urllib.parse import urlsplit

from protego import Protego

from pricewatch.models import FetchOptions, Outcome

# Crawl-delay beyond this is treated as this: a typo of 86400 must not stop a shop for a day.
MAX_CRAWL_DELAY = 300.0


@dataclass(frozen=True, slots=True)
class RobotsResponse:
    """What fetching ``/robots.txt`` gave: a status and body, or an error (status None)."""

    status: int | None
    text: str = ""
    error: str | None = None
    outcome: Outcome | None = None  # the host could not be reached: how the request failed


RobotsLoader = Callable[[str, FetchOptions], Awaitable[RobotsResponse]]


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    reason: str | None = None  # why not, when not allowed
    crawl_delay: float | None = None
    outcome: Outcome = Outcome.ROBOTS_DISALLOWED  # the check's outcome, when not allowed


@dataclass(frozen=True, slots=True)
class _Entry:
    parser: Protego | None  # None with allowed_all False means "unavailable"
    allow_all: bool
    expires: float
    error: str | None = None
    unreachable: Outcome | None = None  # the host could not be reached for robots.txt


def robots_url(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}/robots.txt"


class RobotsCache:
    """Answers "may we fetch this URL?"; loads robots.txt through ``loader`` when needed."""

    def __init__(
        self,
        loader: RobotsLoader,
        *,
        ttl: float,
        retry_unavailable: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._loader = loader
        self._ttl = ttl
        self._retry = min(retry_unavailable, ttl)
        self._clock = clock
        self._entries: dict[str, _Entry] = {}
        self._loading: dict[str, asyncio.Task[_Entry]] = {}

    async def check(self, url: str, options: FetchOptions) -> Verdict:
        key = robots_url(url)
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock():
            entry = await self._load_once(key, options)
        if entry.allow_all:
            return Verdict(True)
        if entry.parser is None:
            if entry.unreachable is not None:
                return Verdict(False, f"{entry.error} (for robots.txt; no page request made)",
                               outcome=entry.unreachable)
            return Verdict(False, f"robots.txt unavailable ({entry.error}); retried later")
        delay = entry.parser.crawl_delay(options.user_agent)
        crawl_delay = None if delay is None else min(float(delay), MAX_CRAWL_DELAY)
        if entry.parser.can_fetch(url, options.user_agent):
            return Verdict(True, crawl_delay=crawl_delay)
        return Verdict(False, "disallowed by robots.txt", crawl_delay)

    async def sitemaps(self, url: str, options: FetchOptions) -> tuple[str, ...]:
        """The ``Sitemap:`` lines of the robots.txt of ``url``'s origin (loaded if need be;
        none when it is missing or unavailable)."""
        key = robots_url(url)
        entry = self._entries.get(key)
        if entry is None or entry.expires <= self._clock():
            entry = await self._load_once(key, options)
        return tuple(entry.parser.sitemaps) if entry.parser is not None else ()

    async def close(self) -> None:
        """Cancel robots.txt fetches still running (shutdown)."""
        tasks = list(self._loading.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _load_once(self, key: str, options: FetchOptions) -> _Entry:
        task = self._loading.get(key)
        if task is None:
            task = asyncio.create_task(self._load(key, options), name=f"robots {key}")
            self._loading[key] = task
            task.add_done_callback(lambda _t: self._loading.pop(key, None))
        # Shielded: one waiter being cancelled must not cancel the load the others wait for.
        return await asyncio.shield(task)

    async def _load(self, key: str, options: FetchOptions) -> _Entry:
        response = await self._loader(key, options)
        now = self._clock()
        status = response.status
        if status is not None and 200 <= status < 300:
            entry = _Entry(Protego.parse(response.text), False, now + self._ttl)
        elif status is not None and 400 <= status < 500:
            entry = _Entry(None, True, now + self._ttl)
        else:
            error = response.error or f"HTTP {status}"
            stale = self._entries.get(key)
            parser = stale.parser if stale is not None else None
            allow_all = stale.allow_all if stale is not None else False
            unreachable = response.outcome if status is None else None
            entry = _Entry(parser, allow_all, now + self._retry, error, unreachable)
        self._entries[key] = entry
        return entry
