"""The demo shop: a local aiohttp server rendering the catalogue in several markup styles."""

from __future__ import annotations

import html
import json
import time
from collections.abc import Callable
from decimal import Decimal

from aiohttp import web

from pricewatch.demo.catalog import DemoProduct, catalog, in_stock_at, price_at

Clock = Callable[[], float]


def format_german(amount: Decimal) -> str:
    whole, _, frac = f"{amount:.2f}".partition(".")
    groups = f"{int(whole):,}".replace(",", ".")
    return f"{groups},{frac}\u00a0€"


def render(product: DemoProduct, now: float, tick: float) -> str:
    price = price_at(product, now, tick=tick)
    stock = in_stock_at(product, now, tick=tick)
    name = html.escape(product.name)
    related = "".join(
        f'<li class="related"><a href="#">Accessory {n}</a> <span class="price">${n * 7}.00</span>'
        "</li>" for n in range(1, 4)
    )
    head, body = "", ""
    availability = "https://schema.org/InStock" if stock else "https://schema.org/OutOfStock"
    if product.style == "css":
        body = f'<div class="buybox"><span class="price">${price}</span></div>'
    elif product.style == "jsonld":
        data = {"@context": "https://schema.org", "@type": "Product", "name": product.name,
                "sku": product.id, "offers": {"@type": "Offer", "price": str(price),
                                              "priceCurrency": product.currency,
                                              "availability": availability}}
        head = f'<script type="application/ld+json">{json.dumps(data)}</script>'
        body = f'<p class="cost">USD {price}</p>'
    elif product.style == "microdata":
        body = (f'<div itemscope itemtype="https://schema.org/Product"><span itemprop="name">'
                f'{name}</span><div itemprop="offers" itemscope '
                f'itemtype="https://schema.org/Offer"><meta itemprop="priceCurrency" '
                f'content="{product.currency}"><span itemprop="price" content="{price}">'
                f'${price}</span><link itemprop="availability" href="{availability}"></div></div>')
    elif product.style == "opengraph":
        head = (f'<meta property="og:type" content="product"><meta property="og:title" '
                f'content="{name}"><meta property="product:price:amount" content="{price}">'
                f'<meta property="product:price:currency" content="{product.currency}">')
        body = f'<div class="amount">${price}</div>'
    elif product.style == "german":
        body = f'<div class="preis"><span class="price">{format_german(price)}</span></div>'
    else:  # "stock": the price stays visible while sold out, as on most shops
        state = ("<button class='add-to-cart'>Add to cart</button>" if stock else
                 "<p class='stock'>Sold out</p><button class='add-to-cart' disabled>"
                 "Add to cart</button>")
        body = f'<div class="buybox"><span class="price">${price}</span>{state}</div>'
    lang = "de" if product.style == "german" else "en"
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{name} - '
            f'Demo Shop</title>{head}</head><body><h1>{name}</h1>{body}'
            f'<p class="shipping">Free shipping on orders over $50.00</p>'
            f'<h2>Customers also bought</h2><ul>{related}</ul></body></html>')


def make_app(*, size: int = 36, tick: float = 60.0, clock: Clock = time.time) -> web.Application:
    products = {p.id: p for p in catalog(size)}

    async def product_page(request: web.Request) -> web.Response:
        product = products.get(request.match_info["id"])
        if product is None:
            raise web.HTTPNotFound(text="no such product")
        return web.Response(text=render(product, clock(), tick), content_type="text/html")

    async def index(_request: web.Request) -> web.Response:
        items = "".join(f'<li><a href="{p.path}">{html.escape(p.name)}</a></li>'
                        for p in products.values())
        return web.Response(text=f"<html><body><h1>Demo Shop</h1><ul>{items}</ul></body></html>",
                            content_type="text/html")

    async def robots(_request: web.Request) -> web.Response:
        return web.Response(text="User-agent: *\nDisallow: /checkout\n")

    app = web.Application()
    app.router.add_get("/", index)
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/product/{id}", product_page)
    return app


async def start(
    *, host: str = "127.0.0.1", port: int = 0, size: int = 36, tick: float = 60.0,
    clock: Clock = time.time,
) -> tuple[web.AppRunner, str]:
    """Start the shop; returns the runner (call ``cleanup()``) and its base URL."""
    runner = web.AppRunner(make_app(size=size, tick=tick, clock=clock), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    server = site._server  # aiohttp exposes the bound port only here
    assert server is not None
    bound = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
    return runner, f"http://{host}:{bound}"
