"""A fault-injecting shop for fetcher tests: real aiohttp servers on several loopback
addresses (127.0.0.1-5, one host each), recording every request it sees so tests can check
the fetcher's behaviour from the server's side (counts, gaps, concurrency)."""

from __future__ import annotations

import asyncio
import time
import zlib
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from functools import cache

from aiohttp import web

PAGE = (
    "<html><head><title>Widget {name}</title></head><body><h1>Widget {name}</h1>"
    '<span class="price">19,99 €</span></body></html>'
)
CAPTCHA = (
    "<!DOCTYPE html><html><head><title>Just a moment...</title></head><body>"
    "<noscript>Please enable JavaScript and cookies to continue</noscript>"
    '<div id="challenge-form">Checking your browser before accessing the shop.</div>'
    "</body></html>"
)


def _gzip_bomb_blocks() -> tuple[bytes, bytes]:
    """A gzip header+first MiB and a block that inflates to one more MiB of zeros (~1 KB
    each): after a full flush the deflate state resets, so the block can be repeated."""
    comp = zlib.compressobj(9, zlib.DEFLATED, 31)
    zeros = b"\0" * (1 << 20)
    head = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    block = comp.compress(zeros) + comp.flush(zlib.Z_FULL_FLUSH)
    return head, block


BOMB_HEAD, BOMB_BLOCK = _gzip_bomb_blocks()


@cache
def brotli_bomb() -> bytes:
    """~12 KB of brotli that inflates to 64 MiB of zeros."""
    import brotli  # type: ignore[import-untyped]

    return bytes(brotli.compress(b"\0" * (64 << 20), quality=1))


@dataclass
class Hit:
    host: str
    path: str
    start: float
    end: float = 0.0
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class FaultServer:
    """Routes are listed in ``app()``; per-host robots.txt is set with ``robots``."""

    hits: list[Hit] = field(default_factory=list)
    robots: dict[str, tuple[int, str]] = field(default_factory=dict)  # host -> (status, body)
    robots_delay: float = 0.0
    latency: dict[str, float] = field(default_factory=dict)  # host -> seconds per page
    in_flight: Counter[str] = field(default_factory=Counter)
    max_in_flight: Counter[str] = field(default_factory=Counter)
    max_hosts_in_flight: int = 0
    served: Counter[str] = field(default_factory=Counter)  # per path, for "fail N times"
    ports: dict[str, int] = field(default_factory=dict)

    def url(self, host: str, path: str) -> str:
        return f"http://{host}:{self.ports[host]}{path}"

    def hits_for(self, path: str, host: str | None = None) -> list[Hit]:
        return [h for h in self.hits if h.path == path and (host is None or h.host == host)]

    @web.middleware
    async def _record(self, request: web.Request, handler: object) -> web.StreamResponse:
        host = request.transport.get_extra_info("sockname")[0] if request.transport else "?"
        hit = Hit(host, request.path_qs, time.monotonic(), headers=dict(request.headers))
        self.hits.append(hit)
        self.in_flight[host] += 1
        self.max_in_flight[host] = max(self.max_in_flight[host], self.in_flight[host])
        busy = sum(1 for n in self.in_flight.values() if n > 0)
        self.max_hosts_in_flight = max(self.max_hosts_in_flight, busy)
        try:
            return await handler(request)  # type: ignore[operator, no-any-return]
        finally:
            self.in_flight[host] -= 1
            hit.end = time.monotonic()

    def app(self) -> web.Application:
        app = web.Application(middlewares=[self._record])
        r = app.router
        r.add_get("/robots.txt", self.robots_txt)
        r.add_get("/page/{name}", self.page)
        r.add_get("/flaky/{name}", self.flaky)
        r.add_get("/slow-headers", self.slow_headers)
        r.add_get("/trickle", self.trickle)
        r.add_get("/truncated", self.truncated)
        r.add_get("/huge", self.huge)
        r.add_get("/bomb", self.bomb)
        r.add_get("/bomb-br", self.bomb_br)
        r.add_get("/json", self.json)
        r.add_get("/loop/{n}", self.loop)
        r.add_get("/hops/{n}", self.hops)
        r.add_get("/goto", self.goto)
        r.add_get("/captcha", self.captcha)
        r.add_get("/bad-charset", self.bad_charset)
        r.add_get("/pdf", self.pdf)
        r.add_get("/etag", self.etag)
        r.add_get("/status/{code}", self.status)
        return app

    async def robots_txt(self, request: web.Request) -> web.Response:
        if self.robots_delay:
            await asyncio.sleep(self.robots_delay)
        host = request.transport.get_extra_info("sockname")[0] if request.transport else "?"
        status, body = self.robots.get(host, (404, "not found"))
        return web.Response(status=status, text=body, content_type="text/plain")

    async def page(self, request: web.Request) -> web.Response:
        host = request.transport.get_extra_info("sockname")[0] if request.transport else "?"
        delay = self.latency.get(host, 0.0)
        if delay:
            await asyncio.sleep(delay)
        return web.Response(text=PAGE.format(name=request.match_info["name"]),
                            content_type="text/html")

    async def flaky(self, request: web.Request) -> web.Response:
        """Fails ``fail`` times with ``status`` (and ``retry_after``), then serves the page."""
        self.served[request.path] += 1
        fail = int(request.query.get("fail", "1"))
        if self.served[request.path] <= fail:
            headers = {}
            if "retry_after" in request.query:
                headers["Retry-After"] = request.query["retry_after"]
            return web.Response(status=int(request.query.get("status", "503")),
                                headers=headers, text="try later")
        return web.Response(text=PAGE.format(name="flaky"), content_type="text/html")

    async def slow_headers(self, request: web.Request) -> web.Response:
        await asyncio.sleep(float(request.query.get("delay", "10")))
        return web.Response(text=PAGE.format(name="slow"), content_type="text/html")

    async def trickle(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html"})
        await response.prepare(request)
        for _ in range(2000):  # "forever" for any sane timeout, but a test server must end
            await response.write(b"<p>")
            await asyncio.sleep(0.02)
        return response

    async def truncated(self, request: web.Request) -> web.StreamResponse:
        response = web.StreamResponse(headers={"Content-Type": "text/html",
                                               "Content-Length": "100000"})
        await response.prepare(request)
        await response.write(b"<html><body>" + b"x" * 1000)
        assert request.transport is not None
        request.transport.close()  # the connection drops mid-body
        return response

    async def huge(self, request: web.Request) -> web.StreamResponse:
        size = 50 * 1024 * 1024
        headers = {"Content-Type": "text/html"}
        if request.query.get("declare") == "1":
            headers["Content-Length"] = str(size)
        response = web.StreamResponse(headers=headers)
        await response.prepare(request)
        chunk = b"<p>" + b"x" * (64 * 1024 - 3)
        try:
            for _ in range(size // len(chunk)):
                await response.write(chunk)
        except (ConnectionError, RuntimeError):
            pass  # the client hung up, as it should
        return response

    async def bomb(self, request: web.Request) -> web.StreamResponse:
        """1 MB on the wire inflates to 1 GiB of zeros."""
        response = web.StreamResponse(headers={"Content-Type": "text/html",
                                               "Content-Encoding": "gzip"})
        await response.prepare(request)
        try:
            await response.write(BOMB_HEAD)
            for _ in range(1023):
                await response.write(BOMB_BLOCK)
        except (ConnectionError, RuntimeError):
            pass
        return response

    async def bomb_br(self, request: web.Request) -> web.Response:
        return web.Response(body=brotli_bomb(), headers={"Content-Type": "text/html",
                                                         "Content-Encoding": "br"})

    async def json(self, request: web.Request) -> web.Response:
        return web.json_response({"data": {"price": "19.99", "currency": "EUR"}})

    async def loop(self, request: web.Request) -> web.Response:
        other = "b" if request.match_info["n"] == "a" else "a"
        raise web.HTTPFound(f"/loop/{other}")

    async def hops(self, request: web.Request) -> web.Response:
        n = int(request.match_info["n"])
        if n <= 0:
            return web.Response(text=PAGE.format(name="hops"), content_type="text/html")
        raise web.HTTPMovedPermanently(f"/hops/{n - 1}")

    async def goto(self, request: web.Request) -> web.Response:
        """A redirect to ``?to=`` (any host), as a shop sends to its CDN or country site."""
        raise web.HTTPFound(request.query["to"])

    async def captcha(self, request: web.Request) -> web.Response:
        return web.Response(text=CAPTCHA, content_type="text/html")

    async def bad_charset(self, request: web.Request) -> web.Response:
        body = PAGE.format(name="bytes").encode("utf-8").replace(b"<h1>", b"<h1>\xff\xfe\xc3(")
        return web.Response(body=body, headers={"Content-Type": "text/html; charset=utf-8"})

    async def pdf(self, request: web.Request) -> web.Response:
        return web.Response(body=b"%PDF-1.4 ...", content_type="application/pdf")

    async def etag(self, request: web.Request) -> web.Response:
        if request.headers.get("If-None-Match") == '"v1"':
            return web.Response(status=304, headers={"ETag": '"v1"'})
        return web.Response(text=PAGE.format(name="etag"), content_type="text/html",
                            headers={"ETag": '"v1"',
                                     "Last-Modified": "Wed, 21 Oct 2026 07:28:00 GMT"})

    async def status(self, request: web.Request) -> web.Response:
        return web.Response(status=int(request.match_info["code"]), text="status")


HOSTS = ("127.0.0.1", "127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")


def by_host(hits: list[Hit]) -> dict[str, list[Hit]]:
    out: dict[str, list[Hit]] = defaultdict(list)
    for hit in hits:
        out[hit.host].append(hit)
    return out
