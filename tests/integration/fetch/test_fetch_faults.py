"""Each fault the test shop can inject ends in the right outcome, with the retries the policy
allows, in bounded time; the server's log shows what the fetcher actually did."""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import tracemalloc

from conftest import http_config, options
from faultserver import FaultServer, brotli_bomb

from pricewatch.fetch import Fetcher
from pricewatch.models import Outcome, Timeouts

H = "127.0.0.2"


async def test_ok_page(fault: FaultServer) -> None:
    """A normal page is ok on the first attempt, sent with our user agent."""
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/page/1"), options())
    assert (result.outcome, result.status, result.attempts) == (Outcome.OK, 200, 1)
    assert "19,99" in result.text
    assert fault.hits_for("/page/1")[0].headers["User-Agent"] == "pricewatch-test/1.0"


async def test_429_retry_after_is_honoured(fault: FaultServer) -> None:
    """A 429 with Retry-After: 1 is retried after about a second, then succeeds."""
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        await asyncio.sleep(seconds)

    async with Fetcher(http_config(), sleep=sleep) as fetcher:
        result = await fetcher.fetch(
            fault.url(H, "/flaky/ra?fail=1&status=429&retry_after=1"), options())
    assert (result.outcome, result.attempts) == (Outcome.OK, 2)
    assert sleeps == [1.0]
    hits = fault.hits_for("/flaky/ra?fail=1&status=429&retry_after=1")
    assert len(hits) == 2
    assert hits[1].start - hits[0].start >= 0.95


async def test_retry_after_is_capped(fault: FaultServer) -> None:
    """A Retry-After of an hour is cut to http.retries.retry_after_max."""
    sleeps: list[float] = []

    async def fake_sleep(seconds: float) -> None:
        sleeps.append(seconds)

    config = http_config(retries={"attempts": 2, "retry_after_max": 0.5})
    async with Fetcher(config, sleep=fake_sleep) as fetcher:
        result = await fetcher.fetch(
            fault.url(H, "/flaky/cap?fail=5&status=429&retry_after=3600"), options())
    assert (result.outcome, result.attempts, result.status) == (Outcome.RATE_LIMITED, 2, 429)
    assert sleeps == [0.5]


async def test_503_then_success_with_jittered_backoff(fault: FaultServer) -> None:
    """Two 503s then a page: three attempts, and the gaps the server sees lie within the
    full-jitter bounds [0, base * 2**n] (plus scheduling slack)."""
    rng = random.Random(7)
    expected = [random.Random(7).uniform(0, 0.05)]
    async with Fetcher(http_config(), rng=rng) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/flaky/b?fail=2&status=503"), options())
    assert (result.outcome, result.attempts) == (Outcome.OK, 3)
    hits = fault.hits_for("/flaky/b?fail=2&status=503")
    gaps = [b.start - a.start for a, b in itertools.pairwise(hits)]
    assert len(gaps) == 2
    assert gaps[0] >= expected[0] - 0.005
    assert gaps[0] <= 0.05 + 0.5
    assert gaps[1] <= 0.1 + 0.5


async def test_503_forever_gives_up_after_the_configured_attempts(fault: FaultServer) -> None:
    """A 503 that never ends costs exactly http.retries.attempts requests."""
    async with Fetcher(http_config(retries={"attempts": 4, "backoff_base": 0.01})) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/flaky/c?fail=99&status=503"), options())
    assert (result.outcome, result.status, result.attempts) == (Outcome.HTTP_ERROR, 503, 4)
    assert len(fault.hits_for("/flaky/c?fail=99&status=503")) == 4


async def test_404_is_not_retried(fault: FaultServer) -> None:
    """A 4xx other than 429 is final after one request."""
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/status/404"), options())
    assert (result.outcome, result.status, result.attempts) == (Outcome.HTTP_ERROR, 404, 1)
    assert len(fault.hits_for("/status/404")) == 1


async def test_403_is_blocked_and_not_retried(fault: FaultServer) -> None:
    """A 403 is 'blocked' after one request."""
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/status/403"), options())
    assert (result.outcome, result.attempts) == (Outcome.BLOCKED, 1)


async def test_slow_headers_time_out_and_are_retried(fault: FaultServer) -> None:
    """Headers that take 10 s against a 0.3 s read timeout: timeout, after every attempt."""
    started = time.monotonic()
    opts = options(timeouts=Timeouts(connect=1, read=0.3, total=2))
    async with Fetcher(http_config(retries={"attempts": 2, "backoff_base": 0.01})) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/slow-headers?delay=10"), opts)
    assert (result.outcome, result.attempts) == (Outcome.TIMEOUT, 2)
    assert len(fault.hits_for("/slow-headers?delay=10")) == 2
    assert time.monotonic() - started < 5


async def test_trickling_body_hits_the_total_timeout(fault: FaultServer) -> None:
    """A body that never ends but never pauses long is cut by the total timeout."""
    started = time.monotonic()
    opts = options(timeouts=Timeouts(connect=1, read=1, total=0.5))
    async with Fetcher(http_config(retries={"attempts": 1})) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/trickle"), opts)
    assert (result.outcome, result.attempts) == (Outcome.TIMEOUT, 1)
    assert time.monotonic() - started < 5


async def test_truncated_body_is_a_network_error_and_retried(fault: FaultServer) -> None:
    """A connection dropped mid-body is a network error, retried as temporary."""
    async with Fetcher(http_config(retries={"attempts": 2, "backoff_base": 0.01})) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/truncated"), options())
    assert (result.outcome, result.attempts) == (Outcome.NETWORK_ERROR, 2)
    assert len(fault.hits_for("/truncated")) == 2


async def test_refused_connection_is_a_network_error(fault: FaultServer) -> None:
    """Nothing listening: network_error after the configured attempts, no exception."""
    async with Fetcher(http_config(retries={"attempts": 2, "backoff_base": 0.01})) as fetcher:
        result = await fetcher.fetch("http://127.0.0.2:9/page", options(obey_robots=False))
    assert (result.outcome, result.attempts) == (Outcome.NETWORK_ERROR, 2)
    assert result.error is not None
    assert "cannot connect" in result.error


async def test_declared_50mb_body_is_too_large_without_reading(fault: FaultServer) -> None:
    """A Content-Length over max_bytes is refused before the body is read."""
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/huge?declare=1"), options())
    assert (result.outcome, result.attempts) == (Outcome.TOO_LARGE, 1)


async def test_undeclared_50mb_body_is_cut_at_the_cap(fault: FaultServer) -> None:
    """A chunked 50 MB body stops being read at max_bytes, with bounded memory."""
    tracemalloc.start()
    try:
        async with Fetcher(http_config()) as fetcher:
            result = await fetcher.fetch(fault.url(H, "/huge"), options())
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome is Outcome.TOO_LARGE
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


async def test_gzip_bomb_is_too_large_with_bounded_memory(fault: FaultServer) -> None:
    """1 MB of gzip that inflates to 1 GiB stops at max_bytes (1 MiB) decompressed, and
    the process's traced allocations stay far below the inflated size."""
    tracemalloc.start()
    try:
        async with Fetcher(http_config()) as fetcher:
            result = await fetcher.fetch(fault.url(H, "/bomb"), options())
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome is Outcome.TOO_LARGE
    assert result.error is not None
    assert "decompressed" in result.error
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


async def test_brotli_bomb_is_too_large_with_bounded_memory(fault: FaultServer) -> None:
    """12 KB of brotli that inflates to 64 MiB stops at max_bytes with bounded memory."""
    brotli_bomb()  # built before measuring: making it allocates the 64 MiB it inflates to
    tracemalloc.start()
    try:
        async with Fetcher(http_config()) as fetcher:
            result = await fetcher.fetch(fault.url(H, "/bomb-br"), options())
        _now, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert result.outcome is Outcome.TOO_LARGE
    assert peak < 16 * 1024 * 1024, f"peak {peak / 1e6:.1f} MB"


async def test_json_is_fetched_only_for_json_offers(fault: FaultServer) -> None:
    """application/json is not_html for an HTML offer and ok for an offer with json_path."""
    async with Fetcher(http_config()) as fetcher:
        html_offer = await fetcher.fetch(fault.url(H, "/json"), options())
        json_offer = await fetcher.fetch(fault.url(H, "/json"), options(accept_json=True))
    assert html_offer.outcome is Outcome.NOT_HTML
    assert json_offer.outcome is Outcome.OK
    assert '"19.99"' in json_offer.text


async def test_redirect_loop_is_detected(fault: FaultServer) -> None:
    """/loop/a -> /loop/b -> /loop/a is stopped at the first repeat, not at the cap."""
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/loop/a"), options())
    assert result.outcome is Outcome.HTTP_ERROR
    assert result.error is not None
    assert "redirect loop" in result.error
    assert len(fault.hits_for("/loop/a")) + len(fault.hits_for("/loop/b")) == 2


async def test_redirect_cap(fault: FaultServer) -> None:
    """Six hops with max_redirects 5 is an error; five hops is fine."""
    async with Fetcher(http_config(max_redirects=5)) as fetcher:
        too_many = await fetcher.fetch(fault.url(H, "/hops/6"), options())
        enough = await fetcher.fetch(fault.url(H, "/hops/5"), options())
    assert too_many.outcome is Outcome.HTTP_ERROR
    assert too_many.error == "more than 5 redirects"
    assert enough.outcome is Outcome.OK
    assert enough.url.endswith("/hops/0")


async def test_captcha_page_is_blocked(fault: FaultServer) -> None:
    """A 200 interstitial ("Just a moment...") is blocked, not a page without a price."""
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/captcha"), options())
    assert (result.outcome, result.status) == (Outcome.BLOCKED, 200)


async def test_invalid_bytes_in_declared_charset_decode_with_replacement(
    fault: FaultServer,
) -> None:
    """Bytes invalid in the declared UTF-8 become U+FFFD; the page is still ok."""
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/bad-charset"), options())
    assert result.outcome is Outcome.OK
    assert "\ufffd" in result.text
    assert "19,99 €" in result.text


async def test_pdf_is_not_html(fault: FaultServer) -> None:
    """A non-HTML content type is not_html unless the offer reads JSON."""
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/pdf"), options())
    assert (result.outcome, result.content_type) == (Outcome.NOT_HTML, "application/pdf")


async def test_conditional_request_gets_304(fault: FaultServer) -> None:
    """With the ETag of the last good fetch the server answers 304: ok and not_modified."""
    async with Fetcher(http_config()) as fetcher:
        first = await fetcher.fetch(fault.url(H, "/etag"), options())
        second = await fetcher.fetch(fault.url(H, "/etag"), options(), etag=first.etag,
                                     last_modified=first.last_modified)
    assert first.etag == '"v1"'
    assert not first.not_modified
    assert (second.outcome, second.status, second.not_modified) == (Outcome.OK, 304, True)
    assert second.etag == '"v1"'
    assert second.last_modified == first.last_modified
    sent = fault.hits_for("/etag")[1].headers
    assert sent["If-None-Match"] == '"v1"'
    assert sent["If-Modified-Since"] == "Wed, 21 Oct 2026 07:28:00 GMT"


async def test_store_headers_and_cookies_are_sent(fault: FaultServer) -> None:
    """Per-store headers, cookies and user agent reach the server."""
    opts = options(user_agent="shop-ua/2", headers=(("X-Test", "1"),),
                   cookies=(("session", "abc"), ("lang", "de")))
    async with Fetcher(http_config()) as fetcher:
        await fetcher.fetch(fault.url(H, "/page/h"), opts)
    sent = fault.hits_for("/page/h")[0].headers
    assert sent["User-Agent"] == "shop-ua/2"
    assert sent["X-Test"] == "1"
    assert sent["Cookie"] == "session=abc; lang=de"
