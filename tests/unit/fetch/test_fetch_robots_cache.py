"""The robots.txt cache with a fake loader and clock: TTL, RFC 9309 status rules, stale copy."""

from __future__ import annotations

from pricewatch.fetch.robots import MAX_CRAWL_DELAY, RobotsCache, RobotsResponse
from pricewatch.models import FetchOptions

OPTS = FetchOptions(user_agent="pricewatch/0.1 (test)")


class Loader:
    """Answers robots.txt requests from a list, recording how many were made."""

    def __init__(self, *answers: RobotsResponse) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self, url: str, options: FetchOptions) -> RobotsResponse:
        self.calls += 1
        return self.answers.pop(0)


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_unavailable_refresh_keeps_the_stale_copy() -> None:
    """A 503 on refresh keeps the rules fetched before, until the next retry."""
    loader = Loader(RobotsResponse(200, "User-agent: *\nDisallow: /x\n"),
                    RobotsResponse(503), RobotsResponse(404))
    clock = Clock()
    cache = RobotsCache(loader, ttl=100, retry_unavailable=10, clock=clock)
    assert not (await cache.check("http://h/x", OPTS)).allowed
    clock.now = 100
    verdict = await cache.check("http://h/x", OPTS)
    assert verdict.reason == "disallowed by robots.txt"
    assert (await cache.check("http://h/y", OPTS)).allowed
    assert loader.calls == 2
    clock.now = 110
    assert (await cache.check("http://h/x", OPTS)).allowed  # now 404: no rules
    assert loader.calls == 3


async def test_unavailable_without_a_copy_blocks_and_names_the_cause() -> None:
    """A first fetch that fails blocks everything on the host, saying why."""
    cache = RobotsCache(Loader(RobotsResponse(None, error="cannot connect: refused")),
                        ttl=100, retry_unavailable=10, clock=Clock())
    verdict = await cache.check("http://h/anything", OPTS)
    assert not verdict.allowed
    assert verdict.reason == "robots.txt unavailable (cannot connect: refused); retried later"


async def test_user_agent_group_and_crawl_delay_cap() -> None:
    """Our product token's group applies; an absurd Crawl-delay is capped."""
    text = ("User-agent: pricewatch\nDisallow: /mine\nCrawl-delay: 86400\n\n"
            "User-agent: *\nDisallow: /\n")
    cache = RobotsCache(Loader(RobotsResponse(200, text)), ttl=100, retry_unavailable=10,
                        clock=Clock())
    allowed = await cache.check("http://h/page", OPTS)
    assert allowed.allowed
    assert allowed.crawl_delay == MAX_CRAWL_DELAY
    assert not (await cache.check("http://h/mine/1", OPTS)).allowed
    other = FetchOptions(user_agent="otherbot/1.0")
    assert not (await cache.check("http://h/page", other)).allowed
