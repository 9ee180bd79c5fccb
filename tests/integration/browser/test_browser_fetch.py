"""The browser fetcher end to end, in one Chromium for the whole module: prices that exist only
after JavaScript ran, the same politeness and classification as HTTP checks, and bounds."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest
import pytest_asyncio

from pricewatch.config import Settings
from pricewatch.config.browser import BrowserConfig
from pricewatch.fetch import Fetcher
from pricewatch.models import Check, Outcome
from pricewatch.runtime.pipeline import check_offer
from tests.integration.browser.conftest import Shop, need_chromium, offer_lines, settings
from tests.integration.browser.shop import Counts, price_of, start

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("screenshots")


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def fetcher(shots: Path) -> AsyncIterator[Fetcher]:
    """The module's one fetcher, and so its one browser (started by the first page), saving
    failed pages' screenshots into ``shots``."""
    need_chromium()
    http = settings(offer_lines(["http://127.0.0.1/"])).model.http
    async with Fetcher(http, screenshots=shots) as f:
        yield f


def pngs(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.png"))


async def checks(fetcher: Fetcher, config: Settings) -> list[Check]:
    """Every offer of ``config`` checked at once through the real pipeline, in file order."""
    results = await asyncio.gather(*(check_offer(o, fetcher) for o in config.offers()))
    return [r.check for r in results]


async def test_javascript_prices_need_the_browser(shop: Shop, fetcher: Fetcher,
                                                  shots: Path) -> None:
    """A price written by a timer, fetched as JSON, drawn in a shadow root or shown after a
    size is chosen: over HTTP each page is no_price; with fetcher: browser each gives the
    right price (the extractor reads the rendered DOM; the pipeline is the same)."""
    pages = ["delay/1", "json/2", "shadow/3"]
    urls = [f"{shop.base}/{p}" for p in pages]
    variant = (f"      - url: '{shop.base}/variant/4'\n        store: v\n        fetcher: {{f}}\n"
               "        selector: .price\n        steps: [{select: '#size', value: M}, "
               "{click: '#show'}]\n")
    over_http = await checks(fetcher, settings(
        offer_lines(urls, fetcher="http") + variant.replace("{f}", "http")
        .replace("        steps: [{select: '#size', value: M}, {click: '#show'}]\n", "")))
    assert [c.outcome for c in over_http] == [Outcome.NO_PRICE] * 4
    rendered = await checks(fetcher, settings(
        offer_lines(urls[:1], extra=", selector: .price") + offer_lines(urls[1:])
        .replace("store: s0", "store: t0").replace("store: s1", "store: t1")
        + variant.replace("{f}", "browser")))
    assert pngs(shots) == []  # nothing failed, nothing saved
    assert [(c.outcome, c.price) for c in rendered] == [
        (Outcome.OK, Decimal(price_of(1))), (Outcome.OK, Decimal(price_of(2))),
        (Outcome.OK, Decimal(price_of(3))), (Outcome.OK, Decimal(price_of(5)))]


async def test_robots_and_the_per_host_limit_hold(shop: Shop, fetcher: Fetcher) -> None:
    """A page robots.txt disallows is never requested; four browser offers at one host with
    per_host_concurrency 2 never have more than two pages in flight there (counted by the
    shop), and do overlap up to it."""
    shop.counts.paths.clear()
    disallowed = await checks(fetcher, settings(offer_lines([f"{shop.base}/private/1"])))
    assert disallowed[0].outcome is Outcome.ROBOTS_DISALLOWED
    assert "/private/1" not in shop.counts.paths
    counts = Counts()
    runner, base = await start(counts, page_delay=1.0)  # each page is slow to answer
    try:
        config = settings(offer_lines([f"{base}/delay/{i}" for i in range(4)],
                                      extra=", selector: .price"))
        assert all(o.fetch.per_host_concurrency == 2 for o in config.offers())
        got = await checks(fetcher, config)
    finally:
        await runner.cleanup()
    assert [c.price for c in got] == [Decimal(price_of(i)) for i in range(4)]
    assert counts.peak["page"] == 2


async def test_a_page_that_never_settles_times_out_within_the_bound(
        shop: Shop, fetcher: Fetcher, shots: Path) -> None:
    """A page that polls the network for ever (never idle, no selector), and a step whose
    element never comes, are timeout checks saying what they waited for, whose durations
    stay within the total timeout plus the bounded clean-up, each leaving a screenshot of
    the failed page in the screenshots folder; the browser then renders the next page."""
    config = settings(offer_lines([f"{shop.base}/busy"], extra=", timeouts: {total: 1500ms}")
                      + f"      - url: '{shop.base}/variant/9'\n        store: steps\n"
                      "        fetcher: browser\n        timeouts: {total: 1500ms}\n"
                      "        steps: [{click: '#no-such-button'}]\n")
    busy, stuck = await checks(fetcher, config)
    assert busy.outcome is Outcome.TIMEOUT
    assert "did not settle within 1.5s (waiting for the network to go idle)" in (
        busy.error or "")
    assert stuck.outcome is Outcome.TIMEOUT
    assert "in step 1, click '#no-such-button'" in (stuck.error or "")
    for check in (busy, stuck):
        # SCREENSHOT_WITHIN and CLOSE_WITHIN: the screenshot and page close are bounded too.
        assert check.duration_ms < 1500 + 4000 + 5000
    assert {p.parent.name for p in pngs(shots)} >= {"s0", "steps"}
    (after,) = await checks(fetcher, settings(offer_lines([f"{shop.base}/shadow/7"],
                                                          extra=", selector: .price")))
    assert after.price == Decimal(price_of(7))


async def test_rendered_pages_are_classified_like_http_ones(shop: Shop,
                                                           fetcher: Fetcher) -> None:
    """403 is blocked, a bot wall drawn by script is blocked, an image is not_html, a DOM
    past max_bytes is too_large, as the HTTP fetcher classifies them."""
    urls = [f"{shop.base}/{p}" for p in ("forbidden", "wall/1", "img/1.png", "big/1")]
    config = settings(offer_lines(urls), top="")
    got = await checks(fetcher, config)
    assert [c.outcome for c in got[:3]] == [Outcome.BLOCKED, Outcome.BLOCKED, Outcome.NOT_HTML]
    assert got[3].outcome is Outcome.OK  # under the default 10 MB cap
    small = settings(offer_lines(urls[3:]).replace("http:\n", ""), top="")
    capped = Fetcher(small.model.http.model_copy(update={"max_bytes": 100_000}))
    async with capped:
        (big,) = await checks(capped, small)
    assert big.outcome is Outcome.TOO_LARGE


async def test_images_are_blocked_and_cookies_stay_in_their_store(shop: Shop,
                                                                  fetcher: Fetcher) -> None:
    """A page's image is never requested (block: image by default); a cookie one store's
    page sets is sent again to that store's pages and never to another store's."""
    shop.counts.paths.clear()
    shop.counts.cookies.clear()
    (pictured,) = await checks(fetcher, settings(offer_lines([f"{shop.base}/image/3"])))
    assert pictured.outcome is Outcome.OK
    assert "/img/3.png" not in shop.counts.paths
    store_a = "      - {url: '%s', store: a, fetcher: browser}\n"
    first = settings(store_a % f"{shop.base}/cookie/1")
    await checks(fetcher, first)
    again = settings(store_a % f"{shop.base}/cookie/2"
                     + f"      - {{url: '{shop.base}/cookie/3', store: b, fetcher: browser}}\n")
    await checks(fetcher, again)
    sent = dict(shop.counts.cookies)
    assert sent["/cookie/1"] == ""
    assert sent["/cookie/2"] == "session=s1"
    assert sent["/cookie/3"] == ""


async def test_a_remote_browser_over_cdp(shop: Shop, tmp_path: Path) -> None:
    """With browser.endpoint (protocol: cdp) pricewatch launches nothing: it renders in the
    browser that listens there (here a Chromium started by the test, as a compose service
    would be) and gets the price."""
    need_chromium()
    proc = await asyncio.create_subprocess_exec(
        "chromium", "--headless", "--no-sandbox", "--disable-gpu", "--remote-debugging-port=0",
        f"--user-data-dir={tmp_path / 'profile'}", stderr=asyncio.subprocess.PIPE)
    try:
        assert proc.stderr is not None
        endpoint = None
        while endpoint is None:
            line = (await asyncio.wait_for(proc.stderr.readline(), 30)).decode()
            assert line, "chromium exited before listening"
            if "DevTools listening on ws://" in line:
                port = line.split("ws://", 1)[1].split("/", 1)[0]
                endpoint = f"http://{port}"
        remote = BrowserConfig(endpoint=endpoint, protocol="cdp", executable_path=None)
        config = settings(offer_lines([f"{shop.base}/shadow/8"], extra=", selector: .price"))
        async with Fetcher(config.model.http, browser=remote) as fetcher:
            (check,) = await checks(fetcher, config)
        assert check.price == Decimal(price_of(8))
        assert proc.returncode is None  # pricewatch disconnected; the service runs on
    finally:
        proc.kill()
        await proc.wait()
