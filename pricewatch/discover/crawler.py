"""The crawl: start pages and sitemaps in, product pages out, through the project's fetcher.

Politeness is the fetcher's (robots.txt, per-host concurrency and delay, the breaker, size
caps); the crawl adds its own bounds: depth (pagination keeps its listing's depth), a page
budget, the per-pattern trap cap and the scope. A dispatcher keeps at most ``workers`` pages
in flight; each visit catches everything, so one bad page never ends the crawl, and ``stop``
ends it at once with what was found so far.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from decimal import Decimal
from urllib.parse import urlsplit

from pricewatch.discover import page, sitemaps
from pricewatch.discover.frontier import Frontier, Kind, Task
from pricewatch.discover.urls import Scope, canonical, is_pagination
from pricewatch.fetch import Fetcher
from pricewatch.models import FetchOptions, FetchResult, Outcome

log = logging.getLogger(__name__)

MAX_CHILD_SITEMAPS = 1000  # per sitemap index
_SITEMAP_PATH = re.compile(r"(?:\.xml|\.xml\.gz|sitemap[^/]*)$", re.IGNORECASE)
_NO_REQUEST = frozenset([Outcome.ROBOTS_DISALLOWED, Outcome.HOST_PAUSED])


@dataclass(frozen=True, slots=True)
class Limits:
    """How far a crawl may go. ``depth``: link hops from the start (0: the start only);
    ``max_pages``: pages and sitemaps fetched; ``per_pattern``: pages of one URL pattern in a
    row (see Frontier); ``sitemaps``: also read the site's own sitemaps (robots.txt
    ``Sitemap:`` lines, else /sitemap.xml); ``match``: only sitemap entries and products
    whose URL it matches."""

    depth: int = 2
    max_pages: int = 1000
    per_pattern: int = 50
    same_site: bool = False
    sitemaps: bool = False
    match: re.Pattern[str] | None = None


@dataclass(frozen=True, slots=True)
class Found:
    """A product page: its canonical URL and what the extractors read there."""

    url: str
    title: str | None
    price: Decimal
    currency: str | None
    in_stock: bool | None
    extractor: str
    depth: int
    via: str | None  # the page that linked to it (or the sitemap that listed it)


@dataclass
class Progress:
    """Counters for the progress line and the final summary."""

    started: float
    fetched: int = 0  # pages and sitemaps requested
    queued: int = 0
    products: int = 0
    failed: Counter[str] = field(default_factory=Counter)  # outcome -> pages
    disallowed: int = 0  # robots.txt said no (no request made)
    trapped: int = 0  # dropped by the per-pattern cap
    duplicates: int = 0  # fetched, then found to be a page already seen (rel=canonical)
    seen: int = 0  # distinct URLs in the visited set

    def rate(self, now: float) -> float:
        elapsed = now - self.started
        return self.fetched / elapsed if elapsed > 0 else 0.0


@dataclass(frozen=True, slots=True)
class Result:
    found: tuple[Found, ...]
    progress: Progress
    interrupted: bool = False
    start_error: str | None = None  # the start page could not be fetched: why
    budget_hit: bool = False  # stopped by max_pages with URLs still queued


ProgressHook = Callable[[Progress], None]


def looks_like_sitemap(url: str) -> bool:
    return bool(_SITEMAP_PATH.search(urlsplit(url).path))


class Crawler:
    """One crawl from one start URL. ``fetcher`` is entered by the caller (its session,
    limits and robots cache are the crawl's); ``on_progress`` is called after every page."""

    def __init__(self, fetcher: Fetcher, options: FetchOptions, limits: Limits, *,
                 workers: int | None = None, on_progress: ProgressHook | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self._setup = _Setup(fetcher, options, replace(options, accept_xml=True), limits,
                             workers or max(2, options.per_host_concurrency * 2), on_progress)
        self._clock = clock
        self._stop = asyncio.Event()

    def stop(self) -> None:
        """End the crawl now (Ctrl-C): pages in flight are abandoned, the found kept."""
        self._stop.set()

    async def run(self, start: str) -> Result:
        first = canonical(start)
        if first is None:
            raise ValueError(f"not an http(s) URL: {start}")
        scope = Scope.of(first, same_site=self._setup.limits.same_site)
        crawl = _Crawl(self._setup, scope, first, Progress(started=self._clock()))
        return await crawl.run(self._stop)


@dataclass(frozen=True, slots=True)
class _Setup:
    fetcher: Fetcher
    page_options: FetchOptions
    xml_options: FetchOptions
    limits: Limits
    workers: int
    on_progress: ProgressHook | None


class _Crawl:
    """The running state of one ``Crawler.run``: built there, so nothing is half-made."""

    def __init__(self, setup: _Setup, scope: Scope, start: str, progress: Progress) -> None:
        self.c = setup
        self.limits = setup.limits
        self.scope = scope
        self.start = start
        self.frontier = Frontier(per_pattern=self.limits.per_pattern)
        self.progress = progress
        self.found: list[Found] = []
        self.start_error: str | None = None
        self.budget = self.limits.max_pages

    async def run(self, stop: asyncio.Event) -> Result:
        kind = Kind.SITEMAP if looks_like_sitemap(self.start) else Kind.PAGE
        self.frontier.add(Task(self.start, 0, kind))
        if self.limits.sitemaps and kind is Kind.PAGE:
            await self._queue_site_sitemaps()
        pending: set[asyncio.Task[None]] = set()
        stopper = asyncio.create_task(stop.wait())
        interrupted = False
        try:
            while True:
                while len(pending) < self.c.workers and self.budget > 0:
                    job = self.frontier.pop()
                    if job is None:
                        break
                    self.budget -= 1
                    pending.add(asyncio.create_task(self._visit(job)))
                if not pending:
                    break
                done, _ = await asyncio.wait({*pending, stopper},
                                             return_when=asyncio.FIRST_COMPLETED)
                if stopper in done:
                    interrupted = True
                    break
                pending -= done
        finally:
            stopper.cancel()
            for task in pending:
                task.cancel()
            await asyncio.gather(*pending, stopper, return_exceptions=True)
        self._count()
        return Result(tuple(self.found), self.progress, interrupted=interrupted,
                      start_error=self.start_error,
                      budget_hit=not interrupted and len(self.frontier) > 0)

    async def _queue_site_sitemaps(self) -> None:
        listed = await self.c.fetcher.sitemaps(self.start, self.c.page_options)
        parts = urlsplit(self.start)
        for url in listed or (f"{parts.scheme}://{parts.netloc}/sitemap.xml",):
            target = canonical(url)
            if target is not None:
                self.frontier.add(Task(target, 0, Kind.SITEMAP, via="robots.txt"))

    async def _visit(self, task: Task) -> None:
        try:
            if task.kind is Kind.SITEMAP:
                await self._visit_sitemap(task)
            else:
                await self._visit_page(task)
        except Exception as exc:  # one page's surprise must not end the crawl
            log.warning("discover: reading %s failed: %r", task.url, exc)
            log.debug("discover: the failure reading %s", task.url, exc_info=True)
            self.progress.failed["error"] += 1
        self._count()
        if self.c.on_progress is not None:
            self.c.on_progress(self.progress)

    async def _fetch(self, task: Task, options: FetchOptions) -> FetchResult | None:
        result = await self.c.fetcher.fetch(task.url, options)
        if result.outcome in _NO_REQUEST and result.attempts == 0:
            self.budget += 1  # nothing was requested: the page budget is for requests
            if result.outcome is Outcome.ROBOTS_DISALLOWED:
                self.progress.disallowed += 1
            else:
                self.progress.failed[result.outcome.value] += 1
        else:
            self.progress.fetched += 1
            if result.outcome is not Outcome.OK:
                self.progress.failed[result.outcome.value] += 1
        if result.outcome is not Outcome.OK:
            if task.depth == 0 and task.via is None:
                self.start_error = f"{result.outcome.value}: {result.error or 'fetch failed'}"
            return None
        if result.not_modified or not result.text:
            return None
        return result

    async def _visit_sitemap(self, task: Task) -> None:
        result = await self._fetch(task, self.c.xml_options)
        if result is None:
            return
        try:
            found = await asyncio.to_thread(sitemaps.parse, result.text)
        except sitemaps.SitemapError as exc:
            self.progress.failed["not_a_sitemap"] += 1
            if task.via is None and task.depth == 0:
                self.start_error = f"{task.url}: {exc}"
            return
        if found.truncated:
            log.warning("discover: %s lists more than %d entries; the rest were not read",
                        task.url, sitemaps.MAX_ENTRIES)
        if found.index:
            for url in found.urls[:MAX_CHILD_SITEMAPS]:
                target = canonical(url)
                if target is not None and self.scope.allows(target):
                    self.frontier.add(Task(target, task.depth, Kind.SITEMAP, via=task.url))
            return
        if task.depth + 1 > self.limits.depth:
            return
        match = self.limits.match
        for url in found.urls:
            target = canonical(url)
            if target is None or not self.scope.allows(target):
                continue
            if match is not None and not match.search(target):
                continue
            self.frontier.add(Task(target, task.depth + 1, Kind.PAGE, via=task.url))

    async def _visit_page(self, task: Task) -> None:
        result = await self._fetch(task, self.c.page_options)
        if result is None:
            return
        url = canonical(result.url) or task.url
        if url != task.url:  # redirected
            if task.depth == 0 and task.via is None:
                self.scope = self.scope.widened(url)
            if not self.scope.allows(url):
                return  # redirected off the site
            if not self.frontier.mark(url):
                self.progress.duplicates += 1
                return
        reading = await asyncio.to_thread(page.read, result.text, url, self.scope)
        if reading.canonical is not None and reading.canonical != url:
            if not self.frontier.mark(reading.canonical):
                self.progress.duplicates += 1
                return
            url = reading.canonical
        product = reading.product
        if product is not None:
            match = self.limits.match
            if product.price is not None and (match is None or match.search(url)):
                self.found.append(Found(url, product.title, product.price, product.currency,
                                        product.in_stock, product.extractor or "?",
                                        task.depth, task.via))
            return
        for link, paging in reading.links:
            depth = task.depth if paging or is_pagination(url, link) else task.depth + 1
            if depth <= self.limits.depth:
                self.frontier.add(self.frontier.follow(task, url, link, depth))

    def _count(self) -> None:
        p = self.progress
        p.queued = len(self.frontier)
        p.products = len(self.found)
        p.trapped = self.frontier.trapped
        p.seen = self.frontier.seen

