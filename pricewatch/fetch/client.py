"""The fetcher: one aiohttp session per process, and the order of the politeness steps for
each fetch: circuit breaker -> robots.txt -> (host slot + delay -> global slot -> one attempt,
then a backoff sleep holding no slot) * attempts. Returns a FetchResult; never raises for a
failed fetch."""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager
from dataclasses import replace
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp
from yarl import URL

from pricewatch.config import HttpConfig
from pricewatch.config.browser import BrowserConfig
from pricewatch.fetch.breaker import CircuitBreaker
from pricewatch.fetch.browser.service import BrowserService
from pricewatch.fetch.classify import outcome_for_exception
from pricewatch.fetch.hosts import HostLimiter
from pricewatch.fetch.observer import FetchObserver, NullObserver
from pricewatch.fetch.request import Attempt, attempt
from pricewatch.fetch.retry import RetryPolicy
from pricewatch.fetch.robots import RobotsCache, RobotsResponse, Verdict
from pricewatch.models import FetchOptions, FetchResult, Outcome

_ROBOTS_MAX_BYTES = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB
_ROBOTS_MAX_REDIRECTS = 5  # RFC 9309: follow at least five
_ROBOTS_RETRY = 600.0  # an unavailable robots.txt is asked for again after this (or the TTL)

Sleep = Callable[[float], Awaitable[None]]


class Fetcher:
    """Fetches pages politely. Use as ``async with Fetcher(...) as fetcher``.

    ``observer`` is told about retries, robots blocks and paused hosts (metrics); ``rng``,
    ``sleep`` and ``clock`` are seams for tests. ``robots_retry`` is how long an unavailable
    robots.txt blocks its host before it is fetched again. Offers with a ``BrowserPlan``
    are loaded by the browser (``browser`` settings, failure ``screenshots`` folder) under the
    same breaker, robots.txt and host slots; pages take one of ``browser.pages`` slots
    instead of a global HTTP slot."""

    def __init__(
        self,
        http: HttpConfig,
        *,
        observer: FetchObserver | None = None,
        rng: random.Random | None = None,
        sleep: Sleep = asyncio.sleep,
        clock: Callable[[], float] = time.monotonic,
        robots_retry: float = _ROBOTS_RETRY,
        browser: BrowserConfig | None = None,
        screenshots: Path | None = None,
    ) -> None:
        self._http = http
        self.browser = BrowserService(browser or BrowserConfig(), screenshots=screenshots)
        self._global = asyncio.Semaphore(http.concurrency)
        self._hosts = HostLimiter(clock=clock)
        self._breaker = CircuitBreaker(failures=http.circuit_breaker.failures,
                                       pause=http.circuit_breaker.pause, clock=clock)
        self._robots = RobotsCache(self._load_robots, ttl=http.robots_ttl,
                                   retry_unavailable=robots_retry, clock=clock)
        self._policy = RetryPolicy.from_config(http.retries)
        self._observer: FetchObserver = observer or NullObserver()
        self._rng = rng or random.Random()
        self._sleep = sleep
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self._http.concurrency,
            # Per-host politeness is enforced by HostLimiter; this is a backstop.
            limit_per_host=max(self._http.per_host_concurrency, 1) * 4,
            ttl_dns_cache=300,
            enable_cleanup_closed=True,
        )
        # Cookies are per store and sent explicitly; a shared jar would leak them across shops.
        self._session = aiohttp.ClientSession(
            connector=connector, cookie_jar=aiohttp.DummyCookieJar(), auto_decompress=True
        )
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self._robots.close()
        await self.browser.close()
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def hosts(self) -> HostLimiter:
        return self._hosts

    async def sitemaps(self, url: str, options: FetchOptions) -> tuple[str, ...]:
        """The sitemaps the robots.txt of ``url``'s site lists (read once, cached, through
        the host's slot like every robots.txt)."""
        return await self._robots.sitemaps(url, options)

    async def fetch(
        self,
        url: str,
        options: FetchOptions,
        *,
        etag: str | None = None,
        last_modified: str | None = None,
    ) -> FetchResult:
        """Fetch ``url``; every failure is a FetchResult with a failure outcome. ``etag`` and
        ``last_modified`` come from the offer's last good check (conditional request)."""
        started = time.perf_counter()
        host = (urlsplit(url).hostname or "").lower()
        admission = self._breaker.admit(host)
        if not admission.allowed:
            self._observer.on_host_paused(host)
            result = FetchResult(Outcome.HOST_PAUSED, url, attempts=0,
                                 error=_paused_message(admission.paused_for))
        else:
            try:
                result = await self._fetch_admitted(url, host, options, etag, last_modified)
            except BaseException:
                if admission.probe:
                    self._breaker.release(host)
                raise
            self._breaker.record(host, result, probe=admission.probe)
        return replace(result, elapsed_ms=int((time.perf_counter() - started) * 1000))

    async def _fetch_admitted(
        self,
        url: str,
        host: str,
        options: FetchOptions,
        etag: str | None,
        last_modified: str | None,
    ) -> FetchResult:
        # Redirects are followed here, hop by hop: a hop to another host (a shop's CDN, its
        # country site) is a request to that host, so its robots.txt, its per-host limit and
        # its delay apply, exactly as for a URL listed in the config.
        current = url
        seen = {URL(url)}
        hops = 0
        while True:
            if options.obey_robots:
                verdict = await self._robots_verdict(current, host, options)
                if not verdict.allowed:
                    if verdict.outcome is Outcome.ROBOTS_DISALLOWED:
                        self._observer.on_robots_blocked(host)
                    reason = verdict.reason if current == url else (
                        f"redirected to {current}, which is {verdict.reason}")
                    return FetchResult(verdict.outcome, current, attempts=0, error=reason)
            tried = await self._attempts(current, host, options, etag, last_modified)
            target = tried.redirect
            if target is None:
                return tried.result
            error = None
            if target in seen:
                error = f"redirect loop: {target} was already visited"
            elif hops >= self._http.max_redirects:
                error = f"more than {self._http.max_redirects} redirects"
            if error is not None:
                return replace(tried.result, error=error)
            seen.add(target)
            hops += 1
            current = str(target)
            host = (target.host or "").lower()

    async def _attempts(
        self,
        url: str,
        host: str,
        options: FetchOptions,
        etag: str | None,
        last_modified: str | None,
    ) -> Attempt:
        """One request, retried while the failure is temporary; ``attempts`` counts them."""
        number = 0
        while True:
            number += 1
            plan = options.browser
            if plan is not None:
                # The browser follows redirects itself: one hop, under the first host's slot.
                async with self._slot(host, options, shared=self.browser.slots):
                    tried = await self.browser.render(url, options, plan,
                                                      max_bytes=self._http.max_bytes)
            else:
                async with self._slot(host, options):
                    tried = await attempt(self._session_or_fail(), url, options,
                                          max_bytes=self._http.max_bytes,
                                          etag=etag, last_modified=last_modified)
            if not tried.retryable or number >= self._policy.attempts:
                return replace(tried, result=replace(tried.result, attempts=number))
            self._observer.on_retry(host, tried.result.outcome.value)
            # Outside the slots: a backoff sleep must not keep other requests waiting.
            await self._sleep(self._policy.delay(number, tried.retry_after, self._rng))

    async def _robots_verdict(self, url: str, host: str, options: FetchOptions) -> Verdict:
        verdict = await self._robots.check(url, options)
        if verdict.crawl_delay is not None:
            self._hosts.raise_delay(host, verdict.crawl_delay)
        return verdict

    def _slot(self, host: str, options: FetchOptions,
              shared: asyncio.Semaphore | None = None) -> AbstractAsyncContextManager[None]:
        return self._hosts.slot(host, concurrency=options.per_host_concurrency,
                                delay=options.per_host_delay, shared=shared or self._global)

    def _session_or_fail(self) -> aiohttp.ClientSession:
        if self._session is None:
            raise RuntimeError("Fetcher used outside 'async with'")
        return self._session

    async def _load_robots(self, robots_url: str, options: FetchOptions) -> RobotsResponse:
        """Fetch one robots.txt through the host's slot (it is a request to that host too)."""
        host = (urlsplit(robots_url).hostname or "").lower()
        t = options.timeouts
        timeout = aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read)
        try:
            async with self._slot(host, options), self._session_or_fail().get(
                robots_url, headers={"User-Agent": options.user_agent}, timeout=timeout,
                proxy=options.proxy, max_redirects=_ROBOTS_MAX_REDIRECTS,
            ) as response:
                if response.status >= 300:
                    return RobotsResponse(response.status)
                body = await response.content.read(_ROBOTS_MAX_BYTES)
                return RobotsResponse(response.status, body.decode("utf-8", errors="replace"))
        except aiohttp.TooManyRedirects:
            return RobotsResponse(404, error="too many redirects")  # RFC 9309: unavailable
        except Exception as exc:
            outcome, message = outcome_for_exception(exc)
            # Only a host that cannot be reached (refused, DNS, reset, no connection in time)
            # makes the check a network failure; a robots.txt that answers too slowly or
            # brokenly is "unavailable" (RFC 9309) and blocks the host.
            unreachable = isinstance(exc, aiohttp.ConnectionTimeoutError) or (
                outcome is Outcome.NETWORK_ERROR)
            return RobotsResponse(None, error=message,
                                  outcome=outcome if unreachable else None)


def _paused_message(left: float) -> str:
    if left > 0:
        return f"host paused after repeated failures; next probe in {left:.0f}s"
    return "host paused after repeated failures; a probe request is in flight"
