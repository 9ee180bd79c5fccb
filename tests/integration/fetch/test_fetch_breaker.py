"""The circuit breaker: a host that keeps failing is paused and costs no requests, then one
probe decides whether it is back."""

from __future__ import annotations

import asyncio

from conftest import http_config, options
from faultserver import FaultServer
from test_fetch_robots import Counting

from pricewatch.fetch import Fetcher
from pricewatch.models import Outcome

H = "127.0.0.4"


async def test_dead_host_is_paused_then_probed(fault: FaultServer) -> None:
    """Three consecutive failed checks pause the host: the next checks are host_paused
    without a request; after the pause one probe goes out, and its success closes the
    breaker."""
    config = http_config(retries={"attempts": 1},
                         circuit_breaker={"failures": 3, "pause": 0.3})
    seen = Counting()
    url = fault.url(H, "/flaky/dead?fail=3&status=503")
    async with Fetcher(config, observer=seen) as fetcher:
        failed = [await fetcher.fetch(url, options()) for _ in range(3)]
        paused = [await fetcher.fetch(url, options()) for _ in range(5)]
        await asyncio.sleep(0.35)
        probe, after = await asyncio.gather(fetcher.fetch(url, options()),
                                            fetcher.fetch(url, options()))
        closed = await fetcher.fetch(url, options())
    assert [r.status for r in failed] == [503, 503, 503]
    assert {(r.outcome, r.attempts) for r in paused} == {(Outcome.HOST_PAUSED, 0)}
    assert seen.paused == [H] * 6
    assert probe.outcome is Outcome.OK
    assert after.outcome is Outcome.HOST_PAUSED  # only one probe while half-open
    assert closed.outcome is Outcome.OK
    assert len(fault.hits_for("/flaky/dead?fail=3&status=503")) == 5


async def test_failed_probe_pauses_again(fault: FaultServer) -> None:
    """A probe that fails re-opens the breaker for another pause at once."""
    config = http_config(retries={"attempts": 1},
                         circuit_breaker={"failures": 2, "pause": 0.2})
    url = fault.url(H, "/status/502")
    async with Fetcher(config) as fetcher:
        for _ in range(2):
            await fetcher.fetch(url, options())
        await asyncio.sleep(0.25)
        probe = await fetcher.fetch(url, options())
        again = await fetcher.fetch(url, options())
    assert probe.status == 502
    assert again.outcome is Outcome.HOST_PAUSED
    assert len(fault.hits_for("/status/502")) == 3


async def test_page_errors_do_not_pause_the_host(fault: FaultServer) -> None:
    """404s say the page is wrong, not the host: they never open the breaker."""
    config = http_config(circuit_breaker={"failures": 2, "pause": 60})
    async with Fetcher(config) as fetcher:
        results = [await fetcher.fetch(fault.url(H, "/status/404"), options())
                   for _ in range(4)]
    assert {r.outcome for r in results} == {Outcome.HTTP_ERROR}


async def test_retries_are_reported_to_the_observer(fault: FaultServer) -> None:
    """Each retry calls on_retry with the host and the outcome that caused it."""
    seen = Counting()
    async with Fetcher(http_config(), observer=seen) as fetcher:
        await fetcher.fetch(fault.url(H, "/flaky/obs?fail=2&status=429"), options())
    assert seen.retries == [(H, "rate_limited"), (H, "rate_limited")]
