"""robots.txt: fetched once per host, honoured, Crawl-delay applied, and the RFC 9309 rules
for missing (4xx) and unavailable (5xx, timeout) files."""

from __future__ import annotations

import asyncio
import itertools

from conftest import http_config, options
from faultserver import FaultServer

from pricewatch.fetch import Fetcher
from pricewatch.models import Outcome, Timeouts

H = "127.0.0.3"


class Counting:
    """An observer that counts events per kind."""

    def __init__(self) -> None:
        self.retries: list[tuple[str, str]] = []
        self.robots: list[str] = []
        self.paused: list[str] = []

    def on_retry(self, host: str, reason: str) -> None:
        self.retries.append((host, reason))

    def on_robots_blocked(self, host: str) -> None:
        self.robots.append(host)

    def on_host_paused(self, host: str) -> None:
        self.paused.append(host)


async def test_disallowed_page_is_not_requested(fault: FaultServer) -> None:
    """A page robots.txt disallows for our agent is robots_disallowed with no request;
    an allowed page on the same host is fetched."""
    fault.robots[H] = (200, "User-agent: pricewatch-test\nDisallow: /page/secret\n")
    seen = Counting()
    async with Fetcher(http_config(), observer=seen) as fetcher:
        blocked = await fetcher.fetch(fault.url(H, "/page/secret"), options())
        allowed = await fetcher.fetch(fault.url(H, "/page/open"), options())
    assert (blocked.outcome, blocked.attempts) == (Outcome.ROBOTS_DISALLOWED, 0)
    assert blocked.error == "disallowed by robots.txt"
    assert allowed.outcome is Outcome.OK
    assert fault.hits_for("/page/secret") == []
    assert len(fault.hits_for("/robots.txt")) == 1
    assert seen.robots == [H]


async def test_obey_robots_false_ignores_robots(fault: FaultServer) -> None:
    """With obey_robots off, robots.txt is neither fetched nor honoured."""
    fault.robots[H] = (200, "User-agent: *\nDisallow: /\n")
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/page/x"), options(obey_robots=False))
    assert result.outcome is Outcome.OK
    assert fault.hits_for("/robots.txt") == []


async def test_missing_robots_allows_everything(fault: FaultServer) -> None:
    """A robots.txt answering 404 or 403 means no rules."""
    fault.robots["127.0.0.4"] = (403, "forbidden")
    async with Fetcher(http_config()) as fetcher:
        a = await fetcher.fetch(fault.url(H, "/page/a"), options())  # 404 by default
        b = await fetcher.fetch(fault.url("127.0.0.4", "/page/b"), options())
    assert a.outcome is Outcome.OK
    assert b.outcome is Outcome.OK


async def test_robots_5xx_blocks_the_host_until_retried(fault: FaultServer) -> None:
    """A 503 robots.txt blocks every page of the host without requests; after the retry
    interval it is fetched again and, now missing, allows the page."""
    fault.robots[H] = (503, "down")
    async with Fetcher(http_config(), robots_retry=0.2) as fetcher:
        first = await fetcher.fetch(fault.url(H, "/page/a"), options())
        second = await fetcher.fetch(fault.url(H, "/page/b"), options())
        fault.robots[H] = (404, "")
        await asyncio.sleep(0.25)
        third = await fetcher.fetch(fault.url(H, "/page/c"), options())
    assert first.outcome is Outcome.ROBOTS_DISALLOWED
    assert first.error is not None
    assert "robots.txt unavailable (HTTP 503)" in first.error
    assert second.outcome is Outcome.ROBOTS_DISALLOWED
    assert third.outcome is Outcome.OK
    assert len(fault.hits_for("/robots.txt")) == 2
    assert fault.hits_for("/page/a") == fault.hits_for("/page/b") == []


async def test_robots_timeout_blocks_the_host(fault: FaultServer) -> None:
    """A robots.txt that does not answer in time blocks the host (unavailable)."""
    fault.robots_delay = 2
    opts = options(timeouts=Timeouts(connect=1, read=0.2, total=0.5))
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(fault.url(H, "/page/a"), opts)
    assert result.outcome is Outcome.ROBOTS_DISALLOWED
    assert result.error is not None
    assert "timed out" in result.error
    assert fault.hits_for("/page/a") == []


async def test_concurrent_first_requests_fetch_robots_once(fault: FaultServer) -> None:
    """Twenty simultaneous first fetches of one host share a single robots.txt request."""
    fault.robots_delay = 0.1
    fault.robots[H] = (200, "User-agent: *\nAllow: /\n")
    async with Fetcher(http_config(per_host_concurrency=4)) as fetcher:
        results = await asyncio.gather(*(
            fetcher.fetch(fault.url(H, f"/page/{i}"), options(per_host_concurrency=4))
            for i in range(20)))
    assert {r.outcome for r in results} == {Outcome.OK}
    assert len(fault.hits_for("/robots.txt")) == 1


async def test_robots_is_cached_for_its_ttl(fault: FaultServer) -> None:
    """Within robots_ttl the file is not fetched again; after it, it is."""
    fault.robots[H] = (200, "User-agent: *\nDisallow: /private\n")
    async with Fetcher(http_config(robots_ttl=0.3)) as fetcher:
        await fetcher.fetch(fault.url(H, "/page/a"), options())
        await fetcher.fetch(fault.url(H, "/page/b"), options())
        assert len(fault.hits_for("/robots.txt")) == 1
        await asyncio.sleep(0.35)
        await fetcher.fetch(fault.url(H, "/page/c"), options())
    assert len(fault.hits_for("/robots.txt")) == 2


async def test_crawl_delay_raises_the_host_delay(fault: FaultServer) -> None:
    """Crawl-delay: 0.3 becomes the host's delay although the configured one is 0, and the
    server sees the requests spaced (loosely: arrivals carry the machine's jitter; the rule
    itself is tests/unit/fetch/test_fetch_hosts.py's)."""
    fault.robots[H] = (200, "User-agent: *\nCrawl-delay: 0.3\n")
    async with Fetcher(http_config()) as fetcher:
        for i in range(3):
            assert (await fetcher.fetch(fault.url(H, f"/page/{i}"), options())).outcome \
                is Outcome.OK
        assert fetcher.hosts.delay_of(H) == 0.3
    starts = [h.start for h in fault.hits if h.path.startswith("/page/")]
    assert all(b - a >= 0.3 / 2 for a, b in itertools.pairwise(starts))


OTHER = "127.0.0.4"


def _via_redirect(fault: FaultServer, path: str) -> str:
    """A URL on H that redirects to ``path`` on OTHER."""
    return fault.url(H, "/goto?to=" + fault.url(OTHER, path))


async def test_a_redirect_to_another_host_obeys_that_hosts_robots(fault: FaultServer) -> None:
    """A hop to another host is checked against that host's robots.txt: a disallowed target
    is robots_disallowed, saying where the redirect went, and is never requested."""
    fault.robots[OTHER] = (200, "User-agent: *\nDisallow: /page/secret\n")
    seen = Counting()
    async with Fetcher(http_config(), observer=seen) as fetcher:
        blocked = await fetcher.fetch(_via_redirect(fault, "/page/secret"), options())
        allowed = await fetcher.fetch(_via_redirect(fault, "/page/open"), options())
    assert blocked.outcome is Outcome.ROBOTS_DISALLOWED
    assert blocked.error == (f"redirected to {fault.url(OTHER, '/page/secret')}, which is "
                             "disallowed by robots.txt")
    assert fault.hits_for("/page/secret") == []
    assert (allowed.outcome, allowed.url) == (Outcome.OK, fault.url(OTHER, "/page/open"))
    assert len(fault.hits_for("/robots.txt", OTHER)) == 1
    assert seen.robots == [OTHER]


async def test_a_redirect_to_another_host_keeps_that_hosts_delay(fault: FaultServer) -> None:
    """The target host's Crawl-delay spaces its requests whether they come from its own
    URL or from a redirect elsewhere."""
    fault.robots[OTHER] = (200, "User-agent: *\nCrawl-delay: 0.3\n")
    async with Fetcher(http_config()) as fetcher:
        direct = await fetcher.fetch(fault.url(OTHER, "/page/a"), options())
        redirected = await fetcher.fetch(_via_redirect(fault, "/page/b"), options())
    assert (direct.outcome, redirected.outcome) == (Outcome.OK, Outcome.OK)
    starts = [h.start for h in fault.hits if h.host == OTHER and h.path.startswith("/page/")]
    assert len(starts) == 2
    assert starts[1] - starts[0] >= 0.29
