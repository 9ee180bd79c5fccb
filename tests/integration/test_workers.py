"""Extraction in worker processes: same answers as in-process, and a dead worker costs one
failed check, never the round."""

from __future__ import annotations

import asyncio
import os
import signal
import tracemalloc
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web

from pricewatch.config import HttpConfig
from pricewatch.errors import ExtractionError, WorkerError
from pricewatch.fetch import Fetcher
from pricewatch.models import Extraction, ExtractSpec, FetchOptions, Offer, Outcome
from pricewatch.runtime.pipeline import check_offer
from pricewatch.runtime.workers import ProcessExtractor, make_extractor, worker_count
from tests.conftest import ServeFn

SPEC = ExtractSpec(selector=".price")
PAGE = '<html><body><h1>Kettle</h1><span class="price">$12.50</span></body></html>'
# Many small elements: parsing takes long enough to kill the worker in the middle of it.
SLOW = "<html><body>" + '<div class="x"><span>a</span></div>' * 400_000 + PAGE[12:]


async def _wait_in_flight(extractor: ProcessExtractor) -> None:
    for _ in range(500):
        if extractor.in_flight:
            return
        await asyncio.sleep(0.01)
    raise AssertionError("the page never reached a worker")


async def _wait_workers(extractor: ProcessExtractor, count: int) -> None:
    for _ in range(1000):
        if len(extractor.pids) == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"{len(extractor.pids)} workers, wanted {count}")


async def test_workers_extract_what_the_process_itself_extracts() -> None:
    """A page read by a worker process gives the same price, currency and title."""
    async with ProcessExtractor(2) as extractor:
        found = await asyncio.gather(*(extractor.extract(PAGE, url="http://shop/p", spec=SPEC)
                                       for _ in range(6)))
    assert {(f.price, f.currency, f.title) for f in found} == {(Decimal("12.50"), "USD",
                                                                "Kettle")}


def _page(cents: int, padding: int) -> str:
    return (f'<html><body><h1>Kettle</h1><p>{"x" * padding}</p>'
            f'<span class="price">${cents // 100}.{cents % 100:02d}</span></body></html>')


def _maps(pid: int) -> str:
    return Path(f"/proc/{pid}/maps").read_text(encoding="ascii")


async def test_pages_in_the_shared_buffer_and_through_the_pipe_keep_their_own_answers() -> None:
    """Pages that fit a slot of the shared buffer and pages too large for one, queued at once
    on two workers: every answer is its own page's price (a slot reused too early, or a
    frame read as the wrong kind, would give another page's price or none), and each worker
    maps the buffer."""
    pages = {cents: _page(cents, 2_000_000 if cents % 5 == 0 else 150_000 + cents)
             for cents in range(1001, 1041)}
    async with ProcessExtractor(2) as extractor:
        found = await asyncio.gather(*(extractor.extract(page, url="http://shop/p", spec=SPEC)
                                       for page in pages.values()))
        maps = [_maps(pid) for pid in extractor.pids]
    assert [f.price for f in found] == [Decimal(c) / 100 for c in pages]
    assert len(maps) == 2
    assert all("memfd:pricewatch-pages" in m for m in maps)


async def test_bad_page_content_is_a_result_and_a_bad_rule_raises_as_in_process() -> None:
    """Junk bytes give an Extraction without a price; an unusable selector raises
    ExtractionError in the caller, as in-process extraction does."""
    async with ProcessExtractor(1) as extractor:
        junk = await extractor.extract("\x00\ufffd<<<>>>" * 1000, url="http://shop/p", spec=SPEC)
        assert junk.price is None
        assert junk.error
        with pytest.raises(ExtractionError):
            await extractor.extract(PAGE, url="http://shop/p", spec=ExtractSpec(selector="[[["))
        again = await extractor.extract(PAGE, url="http://shop/p", spec=SPEC)
    assert again.price == Decimal("12.50")


async def test_a_killed_worker_fails_its_page_and_is_replaced() -> None:
    """SIGKILL on a worker mid-page: that page raises WorkerError naming the signal, the page
    queued behind it and later pages are still answered, by a replacement worker."""
    async with ProcessExtractor(1) as extractor:
        await extractor.extract(PAGE, url="http://shop/p", spec=SPEC)  # the worker is up
        (pid,) = extractor.pids
        slow = asyncio.create_task(extractor.extract(SLOW, url="http://shop/p", spec=SPEC))
        behind = asyncio.create_task(extractor.extract(PAGE, url="http://shop/p", spec=SPEC))
        await _wait_in_flight(extractor)
        os.kill(pid, signal.SIGKILL)
        with pytest.raises(WorkerError, match="signal 9"):
            await slow
        assert (await behind).price == Decimal("12.50")
        assert (await extractor.extract(PAGE, url="http://shop/p", spec=SPEC)).price
        assert extractor.restarts == 1
        assert extractor.pids
        assert extractor.pids != [pid]


async def test_a_check_whose_worker_dies_is_a_failed_check_with_the_reason(
    serve: ServeFn,
) -> None:
    """Through check_offer: the dead worker's page is an `error` check saying so; the next
    check of the same offer succeeds."""
    pages = [SLOW, PAGE]

    async def product(_request: web.Request) -> web.Response:
        return web.Response(text=pages.pop(0), content_type="text/html")

    base = await serve({"/p": product})
    offer = Offer("kettle", "Kettle", "shop", f"{base}/p", SPEC,
                  FetchOptions("test", per_host_delay=0, obey_robots=False), 3600.0)
    http = HttpConfig(per_host_delay=0, max_bytes=1 << 26)
    async with ProcessExtractor(1) as extractor, Fetcher(http) as f:
        await _wait_workers(extractor, 1)
        (pid,) = extractor.pids
        first = asyncio.create_task(check_offer(offer, f, extractor=extractor))
        await _wait_in_flight(extractor)
        os.kill(pid, signal.SIGKILL)
        failed = (await first).check
        second = (await check_offer(offer, f, extractor=extractor)).check
    assert failed.outcome is Outcome.ERROR
    assert failed.error is not None
    assert "extraction worker died (signal 9)" in failed.error
    assert failed.price is None
    assert second.outcome is Outcome.OK
    assert second.price == Decimal("12.50")


def test_worker_count_follows_the_machine_unless_configured() -> None:
    """None means one worker per core (none on one core); a configured count is kept."""
    cores = os.cpu_count() or 1
    assert worker_count(None) == (cores if cores > 1 else 0)
    assert worker_count(3) == 3
    assert worker_count(0) == 0
    assert type(make_extractor(0)).__name__ == "ThreadExtractor"
    assert isinstance(make_extractor(2), ProcessExtractor)


async def test_a_terminal_ctrl_c_reaches_only_the_parent() -> None:
    """SIGINT and SIGTERM sent to a worker (as Ctrl-C and service managers send them to the
    whole process group) neither kill it nor print a traceback: it goes on answering, and it
    ends when the parent closes its pipe."""
    async with ProcessExtractor(1) as extractor:
        await _wait_workers(extractor, 1)
        (pid,) = extractor.pids
        await extractor.extract(PAGE, url="http://shop/p", spec=SPEC)  # imports done
        os.kill(pid, signal.SIGINT)
        os.kill(pid, signal.SIGTERM)
        await asyncio.sleep(0.3)
        found = await extractor.extract(PAGE, url="http://shop/p", spec=SPEC)
        assert found.price == Decimal("12.50")
        assert extractor.pids == [pid]
        assert extractor.restarts == 0


class _Holding:
    """An extractor that keeps every page it is given, as the bytes a worker reads, until
    released: what a busy worker's queue does."""

    def __init__(self) -> None:
        self.pages: list[bytes] = []
        self.release = asyncio.Event()

    async def extract(self, page: str | bytes, *, url: str, spec: ExtractSpec) -> Extraction:
        self.pages.append(page if isinstance(page, bytes) else page.encode())
        await self.release.wait()
        return Extraction(None, None, None, error="held")

    async def __aenter__(self) -> _Holding:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.release.set()


async def test_a_page_waiting_for_a_worker_is_held_once(serve: ServeFn) -> None:
    """Ten 1 MB pages fetched and waiting for extraction hold about 10 MB, not 20: the check
    keeps the page only as the bytes handed to the extractor, not also as its text."""
    big = "<html><body>" + "x" * 1_000_000 + '<span class="price">$1.00</span></body></html>'

    async def product(_request: web.Request) -> web.Response:
        return web.Response(text=big, content_type="text/html")

    base = await serve({"/p": product})
    offers = [Offer(f"k{n}", "K", "shop", f"{base}/p", SPEC,
                    FetchOptions("test", per_host_delay=0, obey_robots=False), 3600.0)
              for n in range(10)]
    holding = _Holding()
    async with Fetcher(HttpConfig(per_host_delay=0, per_host_concurrency=10)) as fetcher:
        tracemalloc.start()
        try:
            before = tracemalloc.get_traced_memory()[0]
            checks = [asyncio.create_task(check_offer(o, fetcher, extractor=holding))
                      for o in offers]
            for _ in range(500):
                if len(holding.pages) == 10:
                    break
                await asyncio.sleep(0.01)
            held = tracemalloc.get_traced_memory()[0] - before
        finally:
            tracemalloc.stop()
        holding.release.set()
        await asyncio.gather(*checks)
    assert len(holding.pages) == 10
    assert held < 14_000_000, f"{held / 1e6:.1f} MB held for ten 1 MB pages"
