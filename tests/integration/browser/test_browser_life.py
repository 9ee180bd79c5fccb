"""The browser's life: started on the first browser page, restarted after ``restart_after``
pages or past ``max_memory``, replaced when it is killed mid-round (the pages on it fail, the
daemon goes on), and closed when no offer needs it."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
from decimal import Decimal
from pathlib import Path

import pytest

from pricewatch.config import Settings
from pricewatch.config.browser import BrowserConfig
from pricewatch.fetch import Fetcher
from pricewatch.fetch.browser import procs
from pricewatch.models import Check, Outcome
from pricewatch.runtime.pipeline import check_offer
from tests.conftest import eventually
from tests.integration.browser.conftest import Shop, need_chromium, offer_lines, settings
from tests.integration.browser.shop import Counts, price_of, start
from tests.integration.daemon_support import daemon_config, rows, running

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


def browsers() -> list[int]:
    """Main processes of the Chromiums this process launched (their session switch)."""
    found = []
    for pid in procs.tree(os.getpid()):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if b"--pricewatch-session=" in cmdline:
            found.append(pid)
    return found


async def run(fetcher: Fetcher, config: Settings) -> list[Check]:
    results = await asyncio.wait_for(asyncio.gather(
        *(check_offer(o, fetcher) for o in config.offers())), timeout=90)
    return [r.check for r in results]


def delay_pages(base: str, numbers: range, *, per_host: int = 2) -> Settings:
    return settings(offer_lines([f"{base}/delay/{n}" for n in numbers],
                                extra=", selector: .price"), per_host=per_host)


async def test_started_lazily_and_closed_when_released(shop: Shop) -> None:
    """No browser runs before the first browser page; one runs after it; release() (a reload
    that leaves no browser offer) closes it; the next browser page starts a new one."""
    need_chromium()
    async with Fetcher(delay_pages(shop.base, range(1)).model.http) as fetcher:
        over_http = settings(offer_lines([f"{shop.base}/delay/1"], fetcher="http"))
        await run(fetcher, over_http)
        assert browsers() == []
        (first,) = await run(fetcher, delay_pages(shop.base, range(1, 2)))
        assert first.outcome is Outcome.OK
        assert len(browsers()) == 1
        await fetcher.browser.release()
        assert browsers() == []
        (again,) = await run(fetcher, delay_pages(shop.base, range(2, 3)))
        assert again.price == Decimal(price_of(2))
    assert browsers() == []  # and the fetcher's exit closed it


@pytest.mark.parametrize(("config", "reason"), [
    (BrowserConfig(restart_after=2), "restarting the browser after 2 pages"),
    (BrowserConfig(max_memory=64 * 2**20), "passed max_memory"),
])
async def test_restarted_after_m_pages_or_past_the_memory_cap(
        shop: Shop, config: BrowserConfig, reason: str,
        caplog: pytest.LogCaptureFixture) -> None:
    """With restart_after 2, three pages take two browsers; with a memory cap below what
    Chromium needs, each of two pages takes a fresh one; every page still gets its price."""
    need_chromium()
    caplog.set_level(logging.INFO, logger="pricewatch.fetch.browser")
    pages = delay_pages(shop.base, range(3 if config.restart_after == 2 else 2))
    async with Fetcher(pages.model.http, browser=config) as fetcher:
        got = []
        for offer in pages.offers():
            got.append((await check_offer(offer, fetcher)).check.price)
    assert got == [Decimal(price_of(n)) for n in range(len(got))]
    starts = [r for r in caplog.records if r.getMessage().startswith("browser started")]
    assert len(starts) == 2
    assert any(reason in r.getMessage() for r in caplog.records)


async def test_a_killed_browser_fails_its_pages_and_is_replaced() -> None:
    """SIGKILL to Chromium while four pages are loading: those checks fail (error, saying
    the browser crashed) within their timeout instead of hanging, the other offers of the
    round get a new browser and their prices, and so does the next round."""
    need_chromium()
    counts = Counts()
    runner, base = await start(counts, page_delay=0.6)
    try:
        config = delay_pages(base, range(8), per_host=4)
        async with Fetcher(config.model.http, browser=BrowserConfig(pages=4)) as fetcher:
            round_ = asyncio.ensure_future(run(fetcher, config))
            await eventually(lambda: asyncio.sleep(0, counts.served.get("page", 0) >= 4), 60,
                             "four pages waiting for the shop")
            (victim,) = browsers()
            os.kill(victim, signal.SIGKILL)
            first = await round_
            crashed = [c for c in first if c.outcome is Outcome.ERROR]
            assert len(crashed) == 4
            assert all("browser crashed" in (c.error or "") for c in crashed)
            assert [c.outcome for c in first].count(Outcome.OK) == 4
            second = await run(fetcher, delay_pages(base, range(4), per_host=4))
            assert [c.price for c in second] == [Decimal(price_of(n)) for n in range(4)]
            assert victim not in browsers()
    finally:
        await runner.cleanup()


async def test_the_daemon_starts_it_for_browser_offers_and_a_reload_closes_it(
        shop: Shop, tmp_path: Path) -> None:
    """A daemon whose store says fetcher: browser stores the rendered price; a reload that
    puts the store back on HTTP closes the browser (its checks go on, over HTTP: no_price);
    shutdown leaves no browser behind."""
    need_chromium()
    path = tmp_path / "config.yaml"
    url = f"{shop.base}/delay/6"
    browser_store = "stores: {'127.0.0.1': {fetcher: browser}}"
    daemon_config(path, [url], extra=browser_store)
    db = tmp_path / "pw.db"
    async with running(path) as daemon:
        await eventually(lambda: asyncio.sleep(0, ("p0@127.0.0.1", "ok") in rows(db)), 60,
                         "a rendered price")
        assert len(browsers()) == 1
        daemon_config(path, [url])
        assert await daemon.reload() is True
        await eventually(lambda: asyncio.sleep(0, browsers() == []), 30, "the browser closed")
        await eventually(lambda: asyncio.sleep(0, ("p0@127.0.0.1", "no_price") in rows(db)),
                         30, "an HTTP check after the reload")
    assert browsers() == []
