"""The load shop: N distinct ~200 KB product pages on 20 loopback hosts, each answer delayed.

Run it in its own process (``python bench/loadshop.py --hosts 20 --latency 0.1``); it prints
``READY <port>`` once every host listens. Page ``i`` lives at
``http://127.0.0.<1 + i % hosts>:<port>/p/<i>``, so offers spread evenly over the hosts and
per-host politeness is exercised. The price sits ~150 KB deep in ``.buybox .price``; one page
in three also carries JSON-LD (the fast path pricewatch's extractors may take), and every page
has decoy prices (related items, shipping threshold) that a careless selector would pick up.

Pages are assembled from a few pre-rendered filler blocks plus a per-product part, so serving
costs almost nothing and the shop's own CPU never becomes the bottleneck being measured.

Two page styles (``--style``): ``plain``, a couple of thousand tags per page in large blocks, and
``dense``, several thousand small elements (utility-class wrappers, icon SVGs, menus of short
links, rating stars) as real shop templates have; the parser's work grows with the element count,
not the byte count.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import signal
import sys
from collections.abc import Callable
from decimal import Decimal

from aiohttp import web

_FILLERS = 8
_WORDS = [
    "stainless", "steel", "ergonomic", "wireless", "compact", "premium", "durable", "lightweight",
    "rechargeable", "adjustable", "waterproof", "portable", "heavy-duty", "professional",
    "classic", "modern", "vintage", "ceramic", "bamboo", "titanium", "carbon", "organic",
]


def url_of(i: int, *, hosts: int, port: int) -> str:
    return f"http://127.0.0.{1 + i % hosts}:{port}/p/{i}"


def price_of(i: int) -> Decimal:
    """The true price of page ``i`` (what every contender must store)."""
    return Decimal((i * 7919) % 199_000 + 1_000) / 100


def _money(value: Decimal) -> str:
    return f"${value:,.2f}"


def _fill(chunk: Callable[[random.Random, int, int], str], seed: int, size: int) -> str:
    """At least ``size`` characters of ``chunk(rnd, seed, n)`` for n = 1, 2, ..."""
    rnd = random.Random(seed)
    parts: list[str] = []
    total = 0
    n = 0
    while total < size:
        n += 1
        part = chunk(rnd, seed, n)
        parts.append(part)
        total += len(part)
    return "".join(parts)


def _plain_chunk(rnd: random.Random, seed: int, n: int) -> str:
    """Nav links, product tiles with decoy prices, reviews and inline scripts, in turn."""
    words = " ".join(rnd.choice(_WORDS) for _ in range(8))
    kind = n % 4
    if kind == 0:
        chunk = (f'<li class="nav-item"><a href="/c/{seed}/{n}" title="{words}">'
                 f"{words.title()}</a></li>\n")
    elif kind == 1:
        decoy = Decimal(rnd.randint(100, 99_999)) / 100
        chunk = (f'<div class="tile" data-id="{seed}-{n}"><img src="/img/{n}.jpg" '
                 f'alt="{words}"><a href="/p/r{n}">{words.title()}</a>'
                 f'<span class="tile-price">{_money(decoy)}</span></div>\n')
    elif kind == 2:
        chunk = (f'<article class="review"><h4>{words}</h4><p>{words} {words} '
                 f"{words}.</p><span class=\"stars\">{rnd.randint(1, 5)}</span></article>\n")
    else:
        chunk = (f'<script>window.__track && __track("{seed}-{n}", '
                 f'{{"w": "{words}", "n": {n}}});</script>\n')
    return chunk


def _dense_chunk(rnd: random.Random, seed: int, n: int) -> str:
    """Small elements, as templates built from utility classes and components render them."""
    word = rnd.choice(_WORDS)
    kind = n % 5
    if kind == 0:
        links = "".join(f'<li><a href="/c/{n}/{k}">{rnd.choice(_WORDS)}</a></li>'
                        for k in range(6))
        chunk = f'<ul class="menu">{links}</ul>\n'
    elif kind == 1:
        decoy = Decimal(rnd.randint(100, 99_999)) / 100
        stars = "".join('<svg class="h-4 w-4" viewBox="0 0 20 20"><path d="M10 1l3 6 6 1-5 '
                        '4 1 6-5-3-5 3 1-6-5-4 6-1z"/></svg>' for _ in range(3))
        chunk = (f'<div class="card flex p-2" data-id="{seed}-{n}"><a href="/p/r{n}" '
                 f'class="block"><img src="/i/{n}.jpg" alt="" width="64" height="64"></a>'
                 f'<div class="min-w-0"><p class="truncate">{word}</p><div class="flex">'
                 f'{stars}<span class="sr-only">rating</span></div><div><span '
                 f'class="tile-price">{_money(decoy)}</span></div></div></div>\n')
    elif kind == 2:
        chunk = "".join(f'<div class="row"><span class="label">{rnd.choice(_WORDS)}</span>'
                        f'<span class="value">{rnd.randint(1, 999)}</span></div>'
                        for _ in range(4)) + "\n"
    elif kind == 3:
        chunk = (f'<button type="button" class="chip"><i class="icon icon-{word}"></i>'
                 f'<span>{word}</span></button><input type="hidden" name="v{n}" '
                 f'value="{n}"><br>\n')
    else:
        text = " ".join(rnd.choice(_WORDS) for _ in range(40))
        chunk = (f'<p class="text-sm"><b>{word}</b> {text} <em>{rnd.choice(_WORDS)}</em> '
                 f'<a href="/t/{n}">more</a></p>\n')
    return chunk


STYLES: dict[str, Callable[[int, int], str]] = {
    "plain": lambda seed, size: _fill(_plain_chunk, seed, size),
    "dense": lambda seed, size: _fill(_dense_chunk, seed, size),
}


class Catalog:
    """Renders page ``i``; fillers are shared bytes, only the product part is built per call."""

    def __init__(self, *, page_kb: int = 200, style: str = "plain") -> None:
        filler = STYLES[style]
        before = page_kb * 1024 * 3 // 4  # the buy box sits three quarters down the page
        after = page_kb * 1024 - before
        self._before = [filler(s, before).encode() for s in range(_FILLERS)]
        self._after = [filler(100 + s, after).encode() for s in range(_FILLERS)]

    def page(self, i: int) -> bytes:
        price = price_of(i)
        name = f"Product {i} {_WORDS[i % len(_WORDS)].title()} Edition"
        jsonld = ""
        if i % 3 == 0:
            data = {"@context": "https://schema.org", "@type": "Product", "name": name,
                    "sku": f"SKU-{i}", "offers": {"@type": "Offer", "price": str(price),
                                                  "priceCurrency": "USD",
                                                  "availability": "https://schema.org/InStock"}}
            jsonld = f'<script type="application/ld+json">{json.dumps(data)}</script>'
        head = (f'<!doctype html><html lang="en"><head><meta charset="utf-8">'
                f"<title>{name} | Load Shop</title>{jsonld}</head><body>"
                f'<header><p class="promo">Free shipping over $50.00</p></header><ul class="nav">')
        buybox = (f'</ul><main><h1 class="product-title">{name}</h1>'
                  f'<div class="buybox" data-sku="SKU-{i}"><span class="was">'
                  f'{_money(price * 2)}</span><span class="price">{_money(price)}</span>'
                  f'<button class="add-to-cart">Add to cart</button></div><section>')
        return b"".join((head.encode(), self._before[i % _FILLERS], buybox.encode(),
                         self._after[(i // _FILLERS) % _FILLERS],
                         b"</section></main></body></html>"))


def make_app(catalog: Catalog, *, latency: float) -> web.Application:
    async def product(request: web.Request) -> web.Response:
        try:
            i = int(request.match_info["id"])
        except ValueError:
            raise web.HTTPNotFound() from None
        await asyncio.sleep(latency)
        return web.Response(body=catalog.page(i), content_type="text/html", charset="utf-8")

    async def robots(_request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nAllow: /\n")

    app = web.Application()
    app.router.add_get("/p/{id}", product)
    app.router.add_get("/robots.txt", robots)
    return app


async def serve(*, hosts: int, port: int, latency: float, page_kb: int,
                style: str = "plain") -> None:
    runner = web.AppRunner(make_app(Catalog(page_kb=page_kb, style=style), latency=latency),
                           access_log=None, handle_signals=False)
    await runner.setup()
    first = web.TCPSite(runner, "127.0.0.1", port, backlog=1024)
    await first.start()
    server = first._server  # aiohttp exposes the bound port only here
    assert server is not None
    bound = int(server.sockets[0].getsockname()[1])  # type: ignore[attr-defined]
    for h in range(2, hosts + 1):
        await web.TCPSite(runner, f"127.0.0.{h}", bound, backlog=1024).start()
    print(f"READY {bound}", flush=True)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds before each answer")
    parser.add_argument("--page-kb", type=int, default=200)
    parser.add_argument("--style", choices=sorted(STYLES), default="plain")
    args = parser.parse_args(argv)
    asyncio.run(serve(hosts=args.hosts, port=args.port, latency=args.latency,
                      page_kb=args.page_kb, style=args.style))
    return 0


if __name__ == "__main__":
    sys.exit(main())
