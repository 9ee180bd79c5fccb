"""The crawl frontier: what is queued, what was seen, and the per-pattern trap cap.

The visited set holds a 64-bit digest of each canonical URL instead of the URL itself: a crawl
of a large shop sees far more links than it fetches, and the digests are a fraction of the
strings' memory (bench/discover.py measures it). Two URLs sharing a digest (odds around
n^2 / 2^65) would make the crawl skip one page; never a wrong price.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from enum import StrEnum
from hashlib import blake2b

from pricewatch.discover.urls import pattern


class Kind(StrEnum):
    PAGE = "page"
    SITEMAP = "sitemap"


@dataclass(frozen=True, slots=True)
class Task:
    """One URL to fetch (canonical), how deep it is and what linked to it."""

    url: str
    depth: int
    kind: Kind = Kind.PAGE
    via: str | None = None


def digest(url: str) -> int:
    return int.from_bytes(blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest())


class Frontier:
    """Breadth-first: tasks come out in the order they went in, each URL at most once.

    ``per_pattern`` bounds traps (calendars, endless facets, numbered link chains): once that
    many pages of one URL pattern have turned out not to be products, the pattern is closed
    and its queued and future URLs are dropped. Product pages never count against it, so a
    shop's thousands of ``/product/N`` pages all get through."""

    def __init__(self, *, per_pattern: int) -> None:
        self._seen: set[int] = set()
        self._queue: deque[Task] = deque()
        self._per_pattern = per_pattern
        self._misses: dict[str, int] = {}
        self.trapped = 0  # URLs dropped because their pattern was closed

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def seen(self) -> int:
        return len(self._seen)

    def add(self, task: Task) -> bool:
        """Queue ``task`` unless its URL was seen or its pattern is closed."""
        if not self.mark(task.url):
            return False
        if self._closed(task.url):
            self.trapped += 1
            return False
        self._queue.append(task)
        return True

    def mark(self, url: str) -> bool:
        """Record ``url`` as seen (a page's rel=canonical, say); False if it already was."""
        key = digest(url)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def pop(self) -> Task | None:
        """The next task whose pattern is still open, or None when none is left."""
        while self._queue:
            task = self._queue.popleft()
            if task.kind is Kind.SITEMAP or not self._closed(task.url):
                return task
            self.trapped += 1
        return None

    def settle(self, url: str, *, product: bool) -> None:
        """Count a fetched page against its pattern unless it was a product."""
        if not product:
            key = pattern(url)
            self._misses[key] = self._misses.get(key, 0) + 1

    def _closed(self, url: str) -> bool:
        return self._misses.get(pattern(url), 0) >= self._per_pattern
