"""The HTTP client: one aiohttp session per process, global and per-host limits, timeouts,
size caps and classification. Returns a FetchResult; never raises for a failed fetch."""

from __future__ import annotations

import asyncio
import time
from dataclasses import replace
from types import TracebackType
from urllib.parse import urlsplit

import aiohttp

from pricewatch.config import HttpConfig
from pricewatch.fetch.classify import looks_blocked, outcome_for_exception, outcome_for_status
from pricewatch.fetch.decode import decode
from pricewatch.fetch.hosts import HostLimiter
from pricewatch.models import FetchOptions, FetchResult, Outcome

_HTML_TYPES = ("text/html", "application/xhtml+xml", "text/plain", "")
_JSON_TYPES = ("application/json", "application/ld+json", "text/json")
_CHUNK = 64 * 1024


class _TooLarge(Exception):
    pass


class Fetcher:
    """Fetches pages politely. Use as ``async with Fetcher(...) as fetcher``."""

    def __init__(self, http: HttpConfig) -> None:
        self._http = http
        self._concurrency = http.concurrency
        self._global = asyncio.Semaphore(http.concurrency)
        self._hosts = HostLimiter()
        self._max_bytes = http.max_bytes
        self._max_redirects = http.max_redirects
        self._session: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Fetcher:
        connector = aiohttp.TCPConnector(
            limit=self._concurrency, ttl_dns_cache=300, enable_cleanup_closed=True
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
        if self._session is not None:
            await self._session.close()
            self._session = None

    @property
    def hosts(self) -> HostLimiter:
        return self._hosts

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
        # Host slot first: a request queued behind a slow host must not hold a global slot
        # that another host could use.
        async with self._hosts.slot(
            host, concurrency=options.per_host_concurrency, delay=options.per_host_delay
        ), self._global:
            result = await self._request(url, options)
        elapsed = int((time.perf_counter() - started) * 1000)
        return _with_elapsed(result, elapsed)

    async def _request(self, url: str, options: FetchOptions) -> FetchResult:
        assert self._session is not None, "Fetcher used outside 'async with'"
        t = options.timeouts
        timeout = aiohttp.ClientTimeout(total=t.total, sock_connect=t.connect, sock_read=t.read)
        headers = {"User-Agent": options.user_agent, "Accept-Encoding": "gzip, deflate, br",
                   "Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
                   **dict(options.headers)}
        if options.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in options.cookies)
        try:
            async with self._session.get(
                url,
                headers=headers,
                timeout=timeout,
                proxy=options.proxy,
                max_redirects=self._max_redirects,
            ) as response:
                final_url = str(response.url)
                failed = outcome_for_status(response.status)
                if failed is not None:
                    return FetchResult(failed, final_url, status=response.status,
                                       error=f"HTTP {response.status} {response.reason or ''}"
                                       .strip())
                ctype = response.content_type.lower()
                if ctype not in _HTML_TYPES and not (options.accept_json and ctype in _JSON_TYPES):
                    return FetchResult(Outcome.NOT_HTML, final_url, status=response.status,
                                       content_type=ctype, error=f"content type {ctype}")
                declared = response.content_length
                if declared is not None and declared > self._max_bytes:
                    return FetchResult(Outcome.TOO_LARGE, final_url, status=response.status,
                                       error=f"Content-Length {declared} > {self._max_bytes}")
                body = await self._read_capped(response)
                text, _charset = decode(body, response.charset)
        except _TooLarge:
            return FetchResult(Outcome.TOO_LARGE, url, error=f"body over {self._max_bytes} bytes")
        except Exception as exc:
            outcome, message = outcome_for_exception(exc)
            return FetchResult(outcome, url, error=message)
        marker = looks_blocked(text)
        if marker is not None:
            return FetchResult(Outcome.BLOCKED, final_url, status=response.status,
                               error=f"bot wall: {marker!r}")
        return FetchResult(Outcome.OK, final_url, status=response.status, text=text,
                           content_type=ctype, etag=response.headers.get("ETag"),
                           last_modified=response.headers.get("Last-Modified"))

    async def _read_capped(self, response: aiohttp.ClientResponse) -> bytes:
        # Counting decompressed bytes as they arrive stops a gzip bomb before it fills memory.
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.content.iter_chunked(_CHUNK):
            size += len(chunk)
            if size > self._max_bytes:
                raise _TooLarge
            chunks.append(chunk)
        return b"".join(chunks)


def _with_elapsed(result: FetchResult, elapsed_ms: int) -> FetchResult:
    return replace(result, elapsed_ms=elapsed_ms)
