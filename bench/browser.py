"""The browser fetcher's cost next to the HTTP fetcher's, on the same pages, in one run.

A loopback shop (its own process) serves ``--pages`` product pages of about 40 KB: the price in
JSON-LD (so HTTP finds it too) and drawn again by a script, two images (blocked by default)
and a stylesheet. Each round checks every page through the real pipeline, once with
``fetcher: http``, with ``fetcher: browser`` (automatic extraction: it waits for the network
to go idle) and with ``fetcher: browser`` and ``selector`` (it waits for the price to show),
``--at-once`` pages in flight to the host for each and ``browser.pages`` = ``--at-once``,
the order reversed every other run. While a
round runs, the memory of this process and of everything the round started (Playwright's
driver, every Chromium process) is sampled every 50 ms as proportional set size (RSS with
shared pages split among the processes sharing them; a plain RSS sum counts Chromium's
shared libraries once per process) and as plain RSS sum; the peaks are printed, with the CPU
time per check of all those processes (user + system; the other processes' is sampled, so a
floor). Checks per second are wall clock on a shared machine: compare the kinds within one run,
and prefer CPU per check when the machine is loaded.

    python -m bench.browser [--pages 200] [--at-once 4] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import os
import socket
import statistics
import time
from collections import Counter
from dataclasses import dataclass

from aiohttp import web

from pricewatch.config import Settings, loads
from pricewatch.fetch import Fetcher
from pricewatch.fetch.browser import procs
from pricewatch.runtime.pipeline import check_offer

FILLER = "".join(f"<li class='spec'>Specification line {i}: a value</li>" for i in range(600))


def page(n: int) -> str:
    price = f"{20 + n % 500}.{n % 100:02d}"
    return f"""<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">
<title>Bench product {n}</title><link rel="stylesheet" href="/style.css">
<script type="application/ld+json">{{"@context": "https://schema.org", "@type": "Product",
"name": "Bench product {n}", "offers": {{"@type": "Offer", "price": "{price}",
"priceCurrency": "EUR", "availability": "https://schema.org/InStock"}}}}</script></head>
<body><h1>Bench product {n}</h1><img src="/img/{n}-a.jpg"><img src="/img/{n}-b.jpg">
<p>Price: <span class="price"></span></p><ul>{FILLER}</ul>
<script>document.querySelector('.price').textContent = '€{price}';</script></body></html>"""


def serve(port: int) -> None:
    async def product(request: web.Request) -> web.Response:
        return web.Response(text=page(int(request.match_info["n"])), content_type="text/html")

    async def asset(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 20_000, content_type="image/jpeg")

    async def style(request: web.Request) -> web.Response:
        return web.Response(text="body { font-family: sans-serif }", content_type="text/css")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n", content_type="text/plain")

    app = web.Application()
    app.router.add_get("/p/{n}", product)
    app.router.add_get("/img/{name}", asset)
    app.router.add_get("/style.css", style)
    app.router.add_get("/robots.txt", robots)
    web.run_app(app, host="127.0.0.1", port=port, print=None, access_log=None)


# http; browser waiting for the network to go idle (no selector: automatic extraction);
# browser waiting for the offer's selector to show a price.
KINDS = {"http": "fetcher: http", "browser": "fetcher: browser",
         "browser+selector": "fetcher: browser, selector: .price"}


def config(base: str, pages: int, at_once: int, kind: str) -> Settings:
    offers = "".join(f"  - id: p{n}\n    name: P{n}\n    offers:\n"
                     f"      - {{url: '{base}/p/{n}', {KINDS[kind]}}}\n"
                     for n in range(pages))
    return loads(f"""
http: {{per_host_delay: 0s, per_host_concurrency: {at_once}, retries: {{attempts: 1}}}}
browser: {{pages: {at_once}}}
products:
{offers}""")


@dataclass
class Round:
    fetcher: str
    seconds: float
    outcomes: Counter[str]
    peak_python_mb: float
    peak_browser_mb: float
    peak_browser_rss_mb: float
    python_cpu: float  # seconds
    browser_cpu: float  # seconds, every process the round started (sampled: a floor)

    @property
    def cpu_ms_per_check(self) -> float:
        return (self.python_cpu + self.browser_cpu) * 1000 / sum(self.outcomes.values())

    @property
    def per_second(self) -> float:
        return sum(self.outcomes.values()) / self.seconds


async def sample(stop: asyncio.Event, peaks: list[float], cpu: dict[int, float]) -> None:
    """Peak memory (MB, proportional set size: shared pages split among their processes)
    of this process and of the processes it started during the round (the shop and the
    multiprocessing helpers, there before, left out)."""
    me = os.getpid()
    before = set(procs.tree(me))
    while not stop.is_set():
        others = [p for p in procs.tree(me) if p not in before]
        for pid in others:
            cpu[pid] = max(cpu.get(pid, 0.0), _cpu_seconds(pid))
        python = procs.own(me)
        browser = sum(procs.own(p) for p in others)
        peaks[0] = max(peaks[0], python / 2**20)
        peaks[1] = max(peaks[1], browser / 2**20)
        peaks[2] = max(peaks[2], sum(_rss(p) for p in others) / 2**20)
        await asyncio.sleep(0.05)


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds a process has used so far (0 once it is gone)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except OSError:
        return 0


async def one_round(settings: Settings, fetcher_kind: str) -> Round:
    peaks = [0.0, 0.0, 0.0]
    cpu: dict[int, float] = {}  # the round's other processes: CPU seconds last seen
    stop = asyncio.Event()
    sampler = asyncio.create_task(sample(stop, peaks, cpu))
    own_cpu = time.process_time()
    offers = settings.offers()
    started = time.perf_counter()
    async with Fetcher(settings.model.http, browser=settings.model.browser) as fetcher:
        queue = list(reversed(offers))
        outcomes: Counter[str] = Counter()

        async def lane() -> None:
            while queue:
                result = await check_offer(queue.pop(), fetcher)
                outcomes[result.check.outcome.value] += 1

        await asyncio.gather(*(lane() for _ in range(offers[0].fetch.per_host_concurrency)))
        seconds = time.perf_counter() - started
        own_cpu = time.process_time() - own_cpu
    stop.set()
    await sampler
    return Round(fetcher_kind, seconds, outcomes, peaks[0], peaks[1], peaks[2],
                 own_cpu, sum(cpu.values()))


async def main(args: argparse.Namespace) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    shop = multiprocessing.get_context("spawn").Process(target=serve, args=(port,), daemon=True)
    shop.start()
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            break
        except OSError:
            await asyncio.sleep(0.1)
    assert shop.pid is not None
    rounds: dict[str, list[Round]] = {kind: [] for kind in KINDS}
    try:
        for run in range(args.runs):
            order = list(KINDS) if run % 2 == 0 else list(reversed(KINDS))
            for kind in order:
                r = await one_round(config(base, args.pages, args.at_once, kind), kind)
                rounds[kind].append(r)
                print(f"run {run + 1} {kind:16}: {r.per_second:7.1f} checks/s, "
                      f"{r.cpu_ms_per_check:6.1f} CPU ms/check "
                      f"({r.seconds:.1f}s; {dict(r.outcomes)}); peak memory: python "
                      f"{r.peak_python_mb:.0f} MB, browser processes {r.peak_browser_mb:.0f} MB "
                      f"(RSS sum {r.peak_browser_rss_mb:.0f} MB)",
                      flush=True)
    finally:
        shop.terminate()
    http = statistics.median(r.per_second for r in rounds["http"])
    http_cpu = statistics.median(r.cpu_ms_per_check for r in rounds["http"])
    print(f"\n{args.pages} pages, {args.at_once} at once, median of {args.runs} runs "
          "(memory: the peak over the runs):")
    print(f"  {'http':16} {http:7.1f} checks/s, {http_cpu:6.1f} CPU ms/check; pricewatch "
          f"{max(r.peak_python_mb for r in rounds['http']):.0f} MB")
    for kind in ("browser", "browser+selector"):
        rs = rounds[kind]
        rate = statistics.median(r.per_second for r in rs)
        cpu = statistics.median(r.cpu_ms_per_check for r in rs)
        print(f"  {kind:16} {rate:7.1f} checks/s ({http / rate:.0f}x fewer than http), "
              f"{cpu:6.1f} CPU ms/check ({cpu / http_cpu:.0f}x http's); "
              f"browser processes {max(r.peak_browser_mb for r in rs):.0f} MB PSS "
              f"({max(r.peak_browser_rss_mb for r in rs):.0f} MB RSS sum), pricewatch "
              f"{max(r.peak_python_mb for r in rs):.0f} MB")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--at-once", type=int, default=4)
    parser.add_argument("--runs", type=int, default=3)
    asyncio.run(main(parser.parse_args()))
