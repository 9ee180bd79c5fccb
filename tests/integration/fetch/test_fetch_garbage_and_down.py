"""Bytes that are not text never become a page, and a shop that cannot be reached is a
network failure even when it is robots.txt that could not be fetched."""

from __future__ import annotations

import random
import socket

import brotli
from aiohttp import web
from conftest import http_config, options

from pricewatch.fetch import Fetcher
from pricewatch.models import Outcome
from pricewatch.runtime.pipeline import check_offer
from tests.conftest import ServeFn

PAGE = ('<html><head><meta charset="utf-8"><title>Kettle</title></head><body><h1>Kettle</h1>'
        '<span class="price">$19.99</span>' + "<p>A fine kettle.</p>" * 100 + "</body></html>")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_brotli_body_without_content_encoding_is_not_a_page(serve: ServeFn) -> None:
    """A brotli body served as text/html without Content-Encoding is not_html, with a reason."""
    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=brotli.compress(PAGE.encode()),
                            content_type="text/html", charset="utf-8")

    base = await serve({"/p": handler})
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(f"{base}/p", options(obey_robots=False))
    assert result.outcome is Outcome.NOT_HTML
    assert result.error is not None
    assert "binary content" in result.error


async def test_random_bytes_are_never_an_ok_check(serve: ServeFn) -> None:
    """Forty bodies of random bytes, with and without a declared charset, through the whole
    check: none is an ok check, each a not_html check that says why."""
    rng = random.Random(13)
    bodies = [rng.randbytes(rng.randint(50, 20_000)) for _ in range(40)]

    async def handler(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        return web.Response(body=bodies[i], content_type="text/html",
                            charset="utf-8" if i % 2 else None)

    base = await serve({"/r/{i}": handler})
    from pricewatch.models import ExtractSpec, Offer

    async with Fetcher(http_config()) as fetcher:
        for i in range(len(bodies)):
            offer = Offer("p", "P", "shop", f"{base}/r/{i}", ExtractSpec(),
                          options(obey_robots=False), 3600.0)
            check = (await check_offer(offer, fetcher)).check
            assert check.outcome is Outcome.NOT_HTML, (i, check)
            assert check.price is None
            assert check.error
            assert "binary content" in check.error


async def test_a_page_with_a_few_bad_bytes_is_still_read(serve: ServeFn) -> None:
    """A real page with a few invalid UTF-8 bytes is read (the garbage test is not too eager)."""
    body = PAGE.encode().replace(b"fine", b"f\xffne", 5)

    async def handler(_: web.Request) -> web.Response:
        return web.Response(body=body, content_type="text/html", charset="utf-8")

    base = await serve({"/p": handler})
    async with Fetcher(http_config()) as fetcher:
        result = await fetcher.fetch(f"{base}/p", options(obey_robots=False))
    assert result.outcome is Outcome.OK
    assert "$19.99" in result.text


async def test_unreachable_shop_is_a_network_error_not_robots() -> None:
    """A shop whose robots.txt cannot be fetched because nothing listens is network_error,
    and no page request is made (attempts 0)."""
    url = f"http://127.0.0.1:{_free_port()}/page"
    blocked: list[str] = []

    class Observer:
        def on_retry(self, host: str, reason: str) -> None: ...
        def on_robots_blocked(self, host: str) -> None:
            blocked.append(host)
        def on_host_paused(self, host: str) -> None: ...

    async with Fetcher(http_config(), observer=Observer()) as fetcher:
        result = await fetcher.fetch(url, options(obey_robots=True))
    assert result.outcome is Outcome.NETWORK_ERROR
    assert result.attempts == 0
    assert result.error is not None
    assert "cannot connect" in result.error
    assert "robots.txt" in result.error
    assert blocked == []
