"""`pricewatch discover` at scale: pages/s and peak RSS crawling a 10,000-page local shop, and
the visited set's memory per URL.

The shop runs in its own process on 127.0.0.1: a home page, ``--categories`` listings of
``--pages-per-category`` pages each (rel=next), 19 product cards per listing page, and one
JSON-LD product page per card (about 3 KB each). Two contenders, each in a fresh process, in
alternating order over ``--runs`` rounds:

- ``crawl``: pricewatch's Crawler from the home page (depth 2, per-host delay 0, the http
  defaults otherwise: two requests in flight to the host), every page parsed and extracted;
- ``fetch``: the baseline, the same URLs fetched with a bare aiohttp loop at the same
  concurrency, nothing parsed: what the network and the shop alone cost.

Prints each run, the medians, the crawl/fetch ratio of pages/s, the crawl's peak RSS, and the
visited set's bytes per URL (tracemalloc) beside a set of the URL strings themselves.

    python -m bench.discover [--categories 50] [--pages-per-category 10] [--runs 3]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

from aiohttp import web

CARDS = 19
FILLER = "<p>" + "Solid steel body, 1.7 litres, boil-dry protection. " * 40 + "</p>"


def shop_app(categories: int, pages: int) -> web.Application:

    async def home(_: web.Request) -> web.Response:
        links = "".join(f"<li><a href='/c/{c}'>Category {c}</a></li>" for c in range(categories))
        return web.Response(text=f"<html><head><title>Shop</title></head><body><h1>Shop</h1>"
                                 f"<ul>{links}</ul></body></html>", content_type="text/html")

    async def listing(request: web.Request) -> web.Response:
        c = int(request.match_info["c"])
        page = int(request.query.get("page", "1"))
        first = (c * pages + page - 1) * CARDS
        cards = "".join(f"<div class=card><h2><a href='/p/{n}?utm_source=list'>Item {n}</a>"
                        f"</h2><span class=price>{10 + n % 90}.99 EUR</span></div>"
                        for n in range(first, first + CARDS))
        nxt = f"<a rel=next href='/c/{c}?page={page + 1}'>next</a>" if page < pages else ""
        return web.Response(text=f"<html><head><title>Category {c}</title></head><body>"
                                 f"<h1>Category {c}</h1>{cards}{nxt}</body></html>",
                            content_type="text/html")

    async def product(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        price = f"{10 + n % 90}.99"
        ld = json.dumps({"@context": "https://schema.org", "@type": "Product",
                         "name": f"Item {n}", "offers": {"@type": "Offer", "price": price,
                                                         "priceCurrency": "EUR"}})
        return web.Response(
            text=f"<html><head><title>Item {n}</title><script type='application/ld+json'>{ld}"
                 f"</script></head><body><a href='/'>Home</a><h1>Item {n}</h1>"
                 f"<p class=price>{price} EUR</p>{FILLER}</body></html>",
            content_type="text/html")

    app = web.Application()
    app.router.add_get("/", home)
    app.router.add_get("/c/{c}", listing)
    app.router.add_get("/p/{n}", product)
    return app


def serve(port_file: str, categories: int, pages: int) -> None:
    async def main() -> None:
        runner = web.AppRunner(shop_app(categories, pages), access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        port = str(runner.addresses[0][1])
        await asyncio.to_thread(Path(port_file).write_text, port)
        await asyncio.Event().wait()

    asyncio.run(main())


def urls_of(base: str, categories: int, pages: int) -> list[str]:
    out = [f"{base}/"]
    for c in range(categories):
        out += [f"{base}/c/{c}"] + [f"{base}/c/{c}?page={p}" for p in range(2, pages + 1)]
    out += [f"{base}/p/{n}" for n in range(categories * pages * CARDS)]
    return out


async def crawl(base: str) -> dict[str, float]:
    from pricewatch.config import HttpConfig
    from pricewatch.config.schema import GlobalConfig
    from pricewatch.config.settings import fetch_options_for
    from pricewatch.discover import Crawler, Limits
    from pricewatch.fetch import Fetcher

    model = GlobalConfig(http=HttpConfig(per_host_delay=0))
    options = fetch_options_for(model, base)
    async with Fetcher(model.http) as fetcher:
        started = time.perf_counter()
        result = await Crawler(fetcher, options, Limits(depth=2, max_pages=100_000)).run(
            f"{base}/")
        seconds = time.perf_counter() - started
    return {"pages": result.progress.fetched, "products": len(result.found),
            "seconds": seconds}


async def fetch_all(base: str, categories: int, pages: int, concurrency: int
                    ) -> dict[str, float]:
    import aiohttp

    urls = urls_of(base, categories, pages)
    queue = iter(urls)
    count = 0

    async def worker(session: aiohttp.ClientSession) -> None:
        nonlocal count
        for url in queue:
            async with session.get(url) as response:
                await response.read()
                count += 1

    async with aiohttp.ClientSession() as session:
        started = time.perf_counter()
        await asyncio.gather(*(worker(session) for _ in range(concurrency)))
        seconds = time.perf_counter() - started
    return {"pages": count, "products": 0, "seconds": seconds}


def contender(kind: str, base: str, categories: int, pages: int) -> None:
    if kind == "crawl":
        stats = asyncio.run(crawl(base))
    else:
        stats = asyncio.run(fetch_all(base, categories, pages, concurrency=2))
    stats["max_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps(stats))


def visited_bytes_per_url(count: int = 100_000) -> tuple[float, float]:
    """tracemalloc's bytes per URL: the Frontier's visited set, and a set of the strings."""
    from pricewatch.discover.frontier import Frontier

    urls = [f"https://shop.example/products/espresso-machine-{n}?color=black" for n in
            range(count)]
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    frontier = Frontier(per_pattern=100)
    for url in urls:
        frontier.mark(url)
    ours = (tracemalloc.get_traced_memory()[0] - base) / count
    tracemalloc.stop()
    copies = [url.encode().decode() for url in urls]  # strings not shared with ``urls``
    tracemalloc.start()
    base = tracemalloc.get_traced_memory()[0]
    strings = set(copies)
    theirs = (tracemalloc.get_traced_memory()[0] - base) / count
    # the strings were allocated before tracing began: add their own size
    theirs += sum(sys.getsizeof(u) for u in copies) / count
    tracemalloc.stop()
    del strings, frontier
    return ours, theirs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--categories", type=int, default=50)
    parser.add_argument("--pages-per-category", type=int, default=10)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--serve", help=argparse.SUPPRESS)
    parser.add_argument("--contender", help=argparse.SUPPRESS)
    parser.add_argument("--base", help=argparse.SUPPRESS)
    args = parser.parse_args()
    c, p = args.categories, args.pages_per_category
    if args.serve:
        serve(args.serve, c, p)
        return
    if args.contender:
        contender(args.contender, args.base, c, p)
        return
    total = len(urls_of("", c, p))
    print(f"shop: {total} pages ({c} categories x {p} listing pages, {c * p * CARDS} products)")
    root = Path(__file__).resolve().parents[1]
    env = {**os.environ, "PYTHONPATH": str(root)}
    with tempfile.TemporaryDirectory() as tmp:
        port_file = Path(tmp) / "port"
        server = subprocess.Popen([sys.executable, "-m", "bench.discover", "--serve",
                                   str(port_file), "--categories", str(c),
                                   "--pages-per-category", str(p)], env=env, cwd=root)
        try:
            for _ in range(200):
                if port_file.exists() and port_file.read_text():
                    break
                time.sleep(0.05)
            base = f"http://127.0.0.1:{port_file.read_text()}"
            results: dict[str, list[dict[str, float]]] = {"crawl": [], "fetch": []}
            for n in range(args.runs):
                order = ["crawl", "fetch"] if n % 2 == 0 else ["fetch", "crawl"]
                for kind in order:
                    out = subprocess.run(
                        [sys.executable, "-m", "bench.discover", "--contender", kind,
                         "--base", base, "--categories", str(c), "--pages-per-category",
                         str(p)], env=env, cwd=root, capture_output=True, text=True,
                        check=True)
                    stats = json.loads(out.stdout.strip().splitlines()[-1])
                    results[kind].append(stats)
                    print(f"run {n + 1} {kind:5}: {stats['pages']:.0f} pages in "
                          f"{stats['seconds']:.1f} s = {stats['pages'] / stats['seconds']:.0f} "
                          f"pages/s, {stats['products']:.0f} products, peak RSS "
                          f"{stats['max_rss_mb']:.0f} MB")
        finally:
            server.terminate()
            server.wait()
    rate = {k: statistics.median(r["pages"] / r["seconds"] for r in v)
            for k, v in results.items()}
    rss = {k: statistics.median(r["max_rss_mb"] for r in v) for k, v in results.items()}
    print(f"\nmedian pages/s: crawl {rate['crawl']:.0f}, bare fetch {rate['fetch']:.0f}; "
          f"crawl/fetch = {rate['crawl'] / rate['fetch']:.2f}")
    print(f"median peak RSS: crawl {rss['crawl']:.0f} MB, bare fetch {rss['fetch']:.0f} MB")
    short = [r for r in results["crawl"] if r["pages"] != total]
    if short:
        print(f"WARNING: {len(short)} crawl runs fetched fewer than the shop's {total} pages")
    ours, theirs = visited_bytes_per_url()
    print(f"visited set: {ours:.0f} bytes/URL (64-bit digests) vs {theirs:.0f} bytes/URL for a "
          f"set of the URL strings: {ours / theirs:.2f}x")


if __name__ == "__main__":
    main()
