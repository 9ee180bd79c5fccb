"""A small multi-page shop for the crawl tests, logging every request it serves.

Home -> two categories (kettles: three pages with rel=next; toasters: one page) -> product
pages (JSON-LD, microdata, or only a visible price under the <h1>). Links carry tracking
parameters and repeat; one variant link lands on a page whose rel=canonical names another
URL; a /private/ section is disallowed by robots.txt but linked and listed; a calendar links
to next month forever (a trap); robots.txt lists a sitemap index whose product sitemap is
gzipped and names an orphan product no page links to; a link to another host (localhost)
must not be followed.
"""

from __future__ import annotations

import gzip
import time
from dataclasses import dataclass, field
from html import escape

from aiohttp import web

# slug -> (name, price, how the page says it)
PRODUCTS = {
    "steel-kettle": ("Steel Kettle 1.7 L", "39.90", "jsonld"),
    "glass-kettle": ("Glass Kettle", "44.50", "jsonld"),
    "retro-kettle": ("Retro Kettle", "59.00", "microdata"),
    "travel-kettle": ("Travel Kettle", "24.99", "jsonld"),
    "smart-kettle": ("Smart Kettle", "89.00", "visible"),
    "kettle-red": ("Steel Kettle 1.7 L, red", "41.90", "jsonld"),
    "two-slice-toaster": ("Two-Slice Toaster", "29.95", "jsonld"),
    "four-slice-toaster": ("Four-Slice Toaster", "49.95", "visible"),
    "orphan-grinder": ("Orphan Coffee Grinder", "35.00", "jsonld"),  # only in the sitemap
    "secret-deal": ("Secret Deal Kettle", "9.99", "jsonld"),  # under /private/
    "new-kettle": ("New Kettle 2027", "64.00", "jsonld"),  # listed once Log.new says so
}
KETTLE_PAGES = [["steel-kettle", "glass-kettle"], ["retro-kettle", "travel-kettle"],
                ["smart-kettle"]]
TOASTERS = ["two-slice-toaster", "four-slice-toaster"]
# What a crawl of the whole shop must find: every public product, once.
PUBLIC = {s for s in PRODUCTS if s not in ("secret-deal", "orphan-grinder", "new-kettle")}


@dataclass
class Log:
    """Every request: (monotonic arrival, Host header, path with query)."""

    requests: list[tuple[float, str, str]] = field(default_factory=list)
    new: list[str] = field(default_factory=list)  # slugs the kettles listing shows on top

    def paths(self) -> list[str]:
        return [p for _, _, p in self.requests]

    def pages(self) -> list[str]:
        return [p for p in self.paths() if p != "/robots.txt"]


def _page(title: str, body: str, head: str = "") -> str:
    return (f"<!doctype html><html lang=en><head><title>{escape(title)} | Kitchen Shop</title>"
            f"{head}</head><body><nav><a href='/'>Home</a> <a href='/c/kettles'>Kettles</a> "
            f"<a href='/c/toasters?utm_source=nav'>Toasters</a></nav>{body}"
            "<footer><a href='/about#team'>About us</a></footer></body></html>")


def _card(slug: str, extra: str = "") -> str:
    name, price, _ = PRODUCTS[slug]
    return (f"<div class=card><h2><a href='/p/{slug}{extra}'>{escape(name)}</a></h2>"
            f"<span class=price>{price} EUR</span>"
            f"<a href='/p/{slug}?utm_source=list&utm_medium=web#reviews'>reviews</a></div>")


def product_page(slug: str) -> str:
    name, price, how = PRODUCTS[slug]
    head = ""
    body = f"<h1>{escape(name)}</h1>"
    if how == "jsonld":
        head = ('<script type="application/ld+json">{"@context":"https://schema.org",'
                f'"@type":"Product","name":"{name}","offers":{{"@type":"Offer",'
                f'"price":"{price}","priceCurrency":"EUR",'
                '"availability":"https://schema.org/InStock"}}</script>')
        body += f"<p class=price>{price} EUR</p>"
    elif how == "microdata":
        body = (f"<div itemscope itemtype='https://schema.org/Product'><h1 itemprop=name>"
                f"{escape(name)}</h1><div itemprop=offers itemscope "
                f"itemtype='https://schema.org/Offer'><span itemprop=price content='{price}'>"
                f"{price}</span> <meta itemprop=priceCurrency content=EUR>EUR</div></div>")
    else:
        body = (f"<div class=product>{body}<p class=price>{price} &euro;</p>"
                "<button>Add to cart</button></div>")
    body += "<p>Related: <a href='/c/kettles'>more kettles</a></p>"
    return _page(name, body, head)


def build(log: Log) -> web.Application:
    @web.middleware
    async def logged(request: web.Request, handler: web.RequestHandler) -> web.StreamResponse:
        log.requests.append((time.monotonic(), request.host, request.path_qs))
        return await handler(request)

    async def robots(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        return web.Response(text=f"User-agent: *\nDisallow: /private/\n\n"
                                 f"Sitemap: {base}/sitemap_index.xml\n")

    async def home(request: web.Request) -> web.Response:
        body = ("<h1>Kitchen Shop</h1><ul>"
                "<li><a href='/c/kettles?utm_campaign=winter&gclid=abc'>Kettles</a></li>"
                "<li><a href='/c/toasters'>Toasters</a></li>"
                "<li><a href='/private/deals'>Members' deals</a></li>"
                "<li><a href='/calendar/2026/1'>Events</a></li>"
                "<li><a href='/go/elsewhere' rel=nofollow>Partner</a></li>"
                f"<li><a href='http://localhost:{request.url.port}/c/kettles'>Mirror</a></li>"
                "</ul>")
        return web.Response(text=_page("Kitchen Shop", body), content_type="text/html")

    async def kettles(request: web.Request) -> web.Response:
        number = int(request.query.get("page", "1"))
        if not 1 <= number <= len(KETTLE_PAGES):
            raise web.HTTPNotFound()
        cards = "".join(_card(s) for s in KETTLE_PAGES[number - 1])
        if number == 1:
            cards = "".join(_card(s) for s in log.new) + cards
        if number == 1:  # the red variant: a parameter link whose page names its canonical
            cards += _card("steel-kettle", "?colour=red&fbclid=xyz")
        head = ""
        if number < len(KETTLE_PAGES):
            head = f"<link rel=next href='/c/kettles?page={number + 1}'>"
            cards += f"<a href='/c/kettles?page={number + 1}'>next</a>"
        if number > 1:
            previous = "/c/kettles" if number == 2 else f"/c/kettles?page={number - 1}"
            cards += f"<a rel=prev href='{previous}'>previous</a>"
        body = f"<h1>Kettles</h1><p>Page {number}</p>{cards}"
        return web.Response(text=_page("Kettles", body, head), content_type="text/html")

    async def toasters(request: web.Request) -> web.Response:
        body = "<h1>Toasters</h1>" + "".join(_card(s) for s in TOASTERS) + \
            "".join(_card(s, "?ref=dup") for s in TOASTERS[:1])
        return web.Response(text=_page("Toasters", body), content_type="text/html")

    async def product(request: web.Request) -> web.Response:
        slug = request.match_info["slug"]
        if slug not in PRODUCTS or slug == "secret-deal" or (
                slug == "new-kettle" and slug not in log.new):
            raise web.HTTPNotFound()
        if slug == "steel-kettle" and request.query.get("colour") == "red":
            slug = "kettle-red"
        text = product_page(slug)
        if slug == "kettle-red":
            text = text.replace("</title>", "</title><link rel=canonical href='/p/kettle-red'>")
        if request.query.get("ref") == "dup":
            text = text.replace("</title>",
                                f"</title><link rel=canonical href='/p/{slug}'>")
        return web.Response(text=text, content_type="text/html")

    async def private(request: web.Request) -> web.Response:
        return web.Response(text=product_page("secret-deal"), content_type="text/html")

    async def calendar(request: web.Request) -> web.Response:
        year, month = int(request.match_info["year"]), int(request.match_info["month"])
        nxt = (year + 1, 1) if month == 12 else (year, month + 1)
        body = (f"<h1>Events {year}-{month:02}</h1><p>No events.</p>"
                f"<a rel=next href='/calendar/{nxt[0]}/{nxt[1]}'>next month</a>")
        return web.Response(text=_page("Events", body), content_type="text/html")

    async def about(request: web.Request) -> web.Response:
        return web.Response(text=_page("About", "<h1>About us</h1><p>Since 1999.</p>"),
                            content_type="text/html")

    async def sitemap_index(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        xml = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<sitemapindex xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
               f"<sitemap><loc>{base}/sitemaps/products.xml.gz</loc></sitemap>"
               f"<sitemap><loc>{base}/sitemaps/pages.xml</loc></sitemap></sitemapindex>")
        return web.Response(text=xml, content_type="application/xml")

    async def products_sitemap(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        locs = [f"{base}/p/{s}" for s in ("steel-kettle", "glass-kettle", "orphan-grinder")]
        locs.append(f"{base}/private/deals")
        xml = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
               + "".join(f"<url><loc>{u}</loc></url>" for u in locs) + "</urlset>")
        return web.Response(body=gzip.compress(xml.encode()),
                            content_type="application/x-gzip")

    async def pages_sitemap(request: web.Request) -> web.Response:
        base = f"http://{request.host}"
        xml = ('<?xml version="1.0" encoding="UTF-8"?>'
               '<urlset xmlns="http://www.sitemaps.org/schemas/sitemap/0.9">'
               f"<url><loc>{base}/about</loc></url></urlset>")
        return web.Response(text=xml, content_type="text/xml")

    app = web.Application(middlewares=[logged])
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/", home)
    app.router.add_get("/c/kettles", kettles)
    app.router.add_get("/c/toasters", toasters)
    app.router.add_get("/p/{slug}", product)
    app.router.add_get("/private/{rest:.*}", private)
    app.router.add_get("/calendar/{year:\\d+}/{month:\\d+}", calendar)
    app.router.add_get("/about", about)
    app.router.add_get("/sitemap_index.xml", sitemap_index)
    app.router.add_get("/sitemaps/products.xml.gz", products_sitemap)
    app.router.add_get("/sitemaps/pages.xml", pages_sitemap)
    return app


async def start(log: Log) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(build(log), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
