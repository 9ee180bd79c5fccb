"""A local shop whose prices exist only after JavaScript runs, and that counts what it serves.

Pages: ``/delay/<n>`` (a timer writes the price), ``/json/<n>`` (the price comes from a JSON
fetch), ``/shadow/<n>`` (inside a web component's open shadow root), ``/variant/<n>`` (a price
per size, shown once a size is chosen and "Show" clicked), ``/busy`` (polls the network for
ever and never shows a price), ``/private/<n>`` (disallowed by robots.txt). Every document
and API request is counted, with the most in flight at once, per path kind.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

from aiohttp import web

ROBOTS = "User-agent: *\nDisallow: /private/\n"


def price_of(n: int) -> str:
    return f"{10 + n}.{n % 100:02d}"


def _page(title: str, body: str) -> str:
    return (f"<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>{title}</title>"
            f"</head><body><h1>{title}</h1>{body}</body></html>")


def delay_page(n: int) -> str:
    return _page(f"Timer product {n}", f"""<p>Price: <span class="price"></span></p>
<script>setTimeout(() => {{ document.querySelector('.price').textContent =
  '€{price_of(n)}'; }}, 300);</script>""")


def json_page(n: int) -> str:
    return _page(f"JSON product {n}", f"""<div id="buy"></div>
<script>fetch('/api/price/{n}').then(r => r.json()).then(d => {{
  document.getElementById('buy').innerHTML =
    '<span class="price" itemprop="price">' + d.price + ' EUR</span>'; }});</script>""")


def shadow_page(n: int) -> str:
    return _page(f"Shadow product {n}", f"""<price-tag data-n="{n}"></price-tag>
<script>customElements.define('price-tag', class extends HTMLElement {{
  connectedCallback() {{
    const root = this.attachShadow({{mode: 'open'}});
    setTimeout(() => {{ root.innerHTML = '<span class="price">€{price_of(n)}</span>'; }}, 100);
  }} }});</script>""")


def variant_page(n: int) -> str:
    return _page(f"Variant product {n}", f"""<select id="size"><option value="">choose</option>
<option value="S">S</option><option value="M">M</option></select>
<button id="show">Show</button><p>Price: <span class="price"></span></p>
<script>document.getElementById('show').onclick = () => {{
  const size = document.getElementById('size').value;
  const prices = {{S: '{price_of(n)}', M: '{price_of(n + 1)}'}};
  if (prices[size]) document.querySelector('.price').textContent = '€' + prices[size]; }};
</script>""")


def image_page(n: int) -> str:
    return _page(f"Pictured product {n}", f"""<img src="/img/{n}.png" alt="">
<p>Price: <span class="price"></span></p>
<script>document.querySelector('.price').textContent = '€{price_of(n)}';</script>""")


def wall_page(n: int) -> str:
    # What a JavaScript challenge leaves once it ran: the bot wall is in the rendered title.
    return _page(f"Product {n}", """<script>document.title = 'Just a moment...';
document.body.innerHTML = '<p>Checking your browser</p>';</script>""")


def big_page(n: int) -> str:
    return _page(f"Big product {n}", f"""<div id="filler"></div>
<p>Price: <span class="price">€{price_of(n)}</span></p>
<script>document.getElementById('filler').textContent = 'x'.repeat(300000);</script>""")


def cookie_page(n: int) -> str:
    # Sets a cookie from script, as shops do for sessions and consent.
    return _page(f"Cookie product {n}", f"""<p>Price: <span class="price"></span></p>
<script>document.cookie = 'session=s{n}; path=/';
document.querySelector('.price').textContent = '€{price_of(n)}';</script>""")


BUSY = _page("Busy product", """<p>Price: <span class="price"></span></p>
<script>setInterval(() => fetch('/api/poll').catch(() => {}), 100);</script>""")


@dataclass
class Counts:
    """Requests served, and the most in flight at once, per kind (``page`` or ``api``)."""

    served: dict[str, int] = field(default_factory=dict)
    peak: dict[str, int] = field(default_factory=dict)
    now: dict[str, int] = field(default_factory=dict)
    paths: list[str] = field(default_factory=list)
    cookies: list[tuple[str, str]] = field(default_factory=list)  # (path, Cookie header)


def make_app(counts: Counts, *, page_delay: float = 0.0) -> web.Application:
    """The shop; every page answers after ``page_delay`` seconds (to make overlaps visible)."""

    async def counted(kind: str, request: web.Request, body: str, ctype: str,
                      delay: float = 0.0) -> web.Response:
        counts.paths.append(request.path)
        counts.cookies.append((request.path, request.headers.get("Cookie", "")))
        counts.served[kind] = counts.served.get(kind, 0) + 1
        counts.now[kind] = counts.now.get(kind, 0) + 1
        counts.peak[kind] = max(counts.peak.get(kind, 0), counts.now[kind])
        try:
            if delay:
                await asyncio.sleep(delay)
            return web.Response(text=body, content_type=ctype)
        finally:
            counts.now[kind] -= 1

    pages = {"delay": delay_page, "json": json_page, "shadow": shadow_page,
             "variant": variant_page, "private": delay_page, "image": image_page,
             "wall": wall_page, "big": big_page, "cookie": cookie_page}

    async def page(request: web.Request) -> web.Response:
        kind, n = request.match_info["kind"], int(request.match_info["n"])
        if kind not in pages:
            raise web.HTTPNotFound
        return await counted("page", request, pages[kind](n), "text/html", page_delay)

    async def busy(request: web.Request) -> web.Response:
        return await counted("page", request, BUSY, "text/html", page_delay)

    async def api_price(request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        return await counted("api", request, f'{{"price": "{price_of(n)}"}}',
                             "application/json")

    async def poll(request: web.Request) -> web.Response:
        return await counted("api", request, "{}", "application/json", 0.3)

    async def image(request: web.Request) -> web.Response:
        counts.paths.append(request.path)
        return web.Response(body=b"\x89PNG\r\n\x1a\n", content_type="image/png")

    async def forbidden(request: web.Request) -> web.Response:
        counts.paths.append(request.path)
        return web.Response(status=403, text=_page("Forbidden", "<p>no</p>"),
                            content_type="text/html")

    async def robots(request: web.Request) -> web.Response:
        return web.Response(text=ROBOTS, content_type="text/plain")

    app = web.Application()
    app.router.add_get("/robots.txt", robots)
    app.router.add_get("/busy", busy)
    app.router.add_get("/api/poll", poll)
    app.router.add_get("/api/price/{n}", api_price)
    app.router.add_get("/img/{n}.png", image)
    app.router.add_get("/forbidden", forbidden)
    app.router.add_get("/{kind}/{n}", page)
    return app


async def start(counts: Counts, *, page_delay: float = 0.0) -> tuple[web.AppRunner, str]:
    runner = web.AppRunner(make_app(counts, page_delay=page_delay), access_log=None,
                           handler_cancellation=True)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"
