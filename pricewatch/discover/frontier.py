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
    run: int = 1  # pages of this URL's pattern in a row up to here (see Frontier)


def digest(url: str) -> int:
    return int.from_bytes(blake2b(url.encode("utf-8", "surrogatepass"), digest_size=8).digest())


class Frontier:
    """Breadth-first: tasks come out in the order they went in, each URL at most once.

    ``per_pattern`` bounds traps (calendars, endless "next" links, numbered link chains): a
    task's ``run`` counts the pages of its URL pattern it was reached through in a row
    (a page linked from a page of the same pattern continues the row), and a task whose run
    passes the cap is dropped. Siblings do not add up: fifty categories of ten listing pages
    each are fifty rows of ten, and a shop's thousands of product pages are linked from
    listings, so each starts a row of its own."""

    def __init__(self, *, per_pattern: int) -> None:
        self._seen: set[int] = set()
        self._queue: deque[Task] = deque()
        self._per_pattern = per_pattern
        self.trapped = 0  # URLs dropped because their pattern ran too long

    def __len__(self) -> int:
        return len(self._queue)

    @property
    def seen(self) -> int:
        return len(self._seen)

    def add(self, task: Task) -> bool:
        """Queue ``task`` unless its URL was seen or its row is past the cap."""
        if task.run > self._per_pattern:
            if digest(task.url) not in self._seen:
                self.trapped += 1
            return False
        if not self.mark(task.url):
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
        return self._queue.popleft() if self._queue else None

    def follow(self, parent: Task, page_url: str, link: str, depth: int) -> Task:
        """The task for ``link`` found on ``parent`` (read at ``page_url``): its row goes on
        when the link has the page's own pattern."""
        run = parent.run + 1 if pattern(link) == pattern(page_url) else 1
        return Task(link, depth, Kind.PAGE, via=page_url, run=run)
