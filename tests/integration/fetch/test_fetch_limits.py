"""The host limiter at the fetcher level, without the round's lanes: many concurrent fetches
to one host still respect its limit, and a slow host does not hold global slots."""

from __future__ import annotations

import asyncio

from conftest import http_config, options
from faultserver import FaultServer

from pricewatch.fetch import Fetcher
from pricewatch.models import Outcome

SLOW, FAST = "127.0.0.2", "127.0.0.3"


async def test_concurrent_fetches_never_exceed_the_host_limit(fault: FaultServer) -> None:
    """Sixty fetches started at once against one host: at most 3 in flight (its limit)."""
    fault.latency[SLOW] = 0.02
    opts = options(per_host_concurrency=3)
    async with Fetcher(http_config()) as fetcher:
        results = await asyncio.gather(
            *(fetcher.fetch(fault.url(SLOW, f"/page/{i}"), opts) for i in range(60)))
    assert {r.outcome for r in results} == {Outcome.OK}
    assert fault.max_in_flight[SLOW] == 3


async def test_slow_host_does_not_stall_other_hosts(fault: FaultServer) -> None:
    """With 3 global slots, 12 queued requests to a slow host (0.2 s each, 2 at a time)
    leave room for a fast host: all of its pages are served while most slow ones wait."""
    fault.latency[SLOW] = 0.2
    async with Fetcher(http_config(concurrency=3)) as fetcher:
        slow = [asyncio.create_task(fetcher.fetch(fault.url(SLOW, f"/page/s{i}"), options()))
                for i in range(12)]
        await asyncio.sleep(0.05)
        fast = await asyncio.gather(
            *(fetcher.fetch(fault.url(FAST, f"/page/f{i}"), options()) for i in range(10)))
        assert {r.outcome for r in fast} == {Outcome.OK}
        unfinished = sum(1 for t in slow if not t.done())
        await asyncio.gather(*slow)
    assert unfinished >= 8
    assert fault.max_in_flight[SLOW] == 2


async def test_backoff_sleep_holds_no_slot(fault: FaultServer) -> None:
    """While one fetch sleeps before its retry (host limit 1), another fetch to the same
    host is served: the sleeping retry does not hold the host slot."""
    config = http_config(retries={"attempts": 2, "retry_after_max": 5})
    opts = options(per_host_concurrency=1)
    async with Fetcher(config) as fetcher:
        retrying = asyncio.create_task(fetcher.fetch(
            fault.url(SLOW, "/flaky/x?fail=1&status=503&retry_after=1"), opts))
        await asyncio.sleep(0.2)
        other = await fetcher.fetch(fault.url(SLOW, "/page/other"), opts)
        assert not retrying.done()
        first = await retrying
    assert other.outcome is Outcome.OK
    assert first.outcome is Outcome.OK
