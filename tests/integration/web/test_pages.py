"""The web UI and its API over a real SQLite file (and PostgreSQL), through real HTTP."""

from __future__ import annotations

import base64
import csv
import io
import re
import sqlite3
from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from pricewatch.config.schema import ServerAuthConfig
from pricewatch.db.engine import create_engine
from pricewatch.demo.catalog import price_at
from tests.integration.web.conftest import (
    EVIL_URL,
    HOSTILE,
    Site,
    current_now,
    fill,
    start_site,
)


async def get(url: str, **kwargs: object) -> tuple[int, dict[str, str], str]:
    async with aiohttp.ClientSession() as s, s.get(url, **kwargs) as r:  # type: ignore[arg-type]
        return r.status, dict(r.headers), await r.text()


def newest_prices(db: Path) -> dict[str, str]:
    with sqlite3.connect(db) as conn:
        rows = conn.execute(
            "SELECT o.key, c.price FROM checks c JOIN offers o ON o.id = c.offer_id "
            "WHERE c.outcome = 'ok' ORDER BY c.observed_at").fetchall()
    return {key: str(Decimal(str(price)).quantize(Decimal("0.01"))) for key, price in rows}


async def test_overview_lists_every_product_with_headers(site: Site) -> None:
    """The overview has every product, each store's newest price, the cheapest marked, the
    failing offer under "needs attention", and the security headers."""
    await overview_lists_every_product(site)


async def test_overview_without_daemon_memory(tmp_path: Path) -> None:
    """Served without the daemon's memory, the overview reads the newest checks from the
    database and shows the same."""
    engine = create_engine(f"sqlite:///{tmp_path}/db-only.db")
    now = current_now()
    offers, hostile = await fill(engine, now)
    site, runner = await start_site(engine, offers, hostile, now, live=False)
    try:
        await overview_lists_every_product(site)
    finally:
        await runner.cleanup()
        await engine.dispose()


async def overview_lists_every_product(site: Site) -> None:
    status, headers, page = await get(site.base + "/")
    assert status == 200
    assert "database is unreachable" not in page
    assert "script-src 'self'" in headers["Content-Security-Policy"]
    assert "'unsafe-inline'" not in headers["Content-Security-Policy"]
    assert headers["X-Content-Type-Options"] == "nosniff"
    last = site.now.timestamp() - 1800  # the generator's final slot
    for offer, product in site.offers:
        assert product.name in page
        assert f"{price_at(product, last, tick=3600)} {product.currency}" in page, offer.key
    for group in page.split('<tbody class="product"')[1:]:
        assert group.count('class="tag best"') <= 1
    attention = page.split('class="attention"')[1].split("</section>")[0]
    assert "blocked" in attention
    assert "Hostile" in attention


async def test_hostile_strings_are_inert(site: Site) -> None:
    """A title, name and error containing markup are escaped, and a javascript: URL is shown
    as text, never as a link, on every page."""
    for path in ("/", "/products/hostile", "/?q=hostile"):
        status, _, page = await get(site.base + path)
        assert status == 200, path
        assert HOSTILE not in page, path
        assert "<img" not in page, path
        assert f'href="{EVIL_URL}' not in page, path
        assert 'href="javascript' not in page, path
    _, _, page = await get(site.base + "/products/hostile")
    assert "&lt;img src=x onerror=" in page


async def test_read_only(site: Site) -> None:
    """Nothing but GET and HEAD is served: the UI cannot change anything."""
    async with aiohttp.ClientSession() as s:
        for path in ("/", "/api/products", "/products/hostile"):
            async with s.post(site.base + path, data="x") as r:
                assert r.status == 405, path


async def test_product_api_prices_are_decimal_strings(site: Site, tmp_path: Path) -> None:
    """/api/products and /api/products/{id} give each offer's newest price as the exact
    decimal string stored; unknown products are 404 with a JSON body."""
    stored = newest_prices(tmp_path / "web.db")
    async with aiohttp.ClientSession() as s:
        async with s.get(site.base + "/api/products") as r:
            listing = await r.json()
        async with s.get(site.base + f"/api/products/{site.offers[0][0].product_id}") as r:
            one = await r.json()
        async with s.get(site.base + "/api/products/nope") as r:
            assert r.status == 404
            assert (await r.json())["error"] == "not found"
    offers = {o["offer"]: o for p in listing["products"] for o in p["offers"]}
    for key, price in stored.items():
        assert isinstance(offers[key]["price"], str)
        assert Decimal(offers[key]["price"]) == Decimal(price), key
    assert {o["offer"] for o in one["offers"]} == {
        o.key for o, _ in site.offers if o.product_id == site.offers[0][0].product_id}


async def test_history_api_downsamples_keeping_extremes(site: Site) -> None:
    """An offer's history with max_points keeps the lowest and highest price and the last
    one, returns at most max_points points, and since/until cut the range."""
    key = site.offers[0][0].key
    url = f"{site.base}/api/offers/{key}/history"
    async with aiohttp.ClientSession() as s:
        async with s.get(url, params={"max_points": "100000"}) as r:
            full = (await r.json())["series"][0]
        async with s.get(url, params={"max_points": "40"}) as r:
            small = (await r.json())["series"][0]
        since = (site.now - timedelta(days=2)).isoformat()
        async with s.get(url, params={"since": since, "max_points": "100000"}) as r:
            recent = (await r.json())["series"][0]
        async with s.get(url, params={"max_points": "1"}) as r:
            assert r.status == 400
        async with s.get(url, params={"since": "yesterday"}) as r:
            assert r.status == 400
    prices = [Decimal(p["price"]) for p in full["points"]]
    assert not full["downsampled"]
    assert full["checks"] == len(prices) == 480
    assert small["downsampled"]
    assert len(small["points"]) <= 40
    kept = {Decimal(p["price"]) for p in small["points"]}
    assert min(prices) in kept
    assert max(prices) in kept
    assert small["points"][-1] == full["points"][-1]
    assert small["points"][0] == full["points"][0]
    assert 90 <= recent["checks"] <= 100


async def test_csv_matches_database_rows(site: Site, tmp_path: Path) -> None:
    """The CSV download has one line per stored check of the product, with its values."""
    pid = site.offers[0][0].product_id
    _, headers, body = await get(f"{site.base}/products/{pid}/history.csv")
    assert headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(body)))
    with sqlite3.connect(tmp_path / "web.db") as conn:
        stored = conn.execute(
            "SELECT o.key, c.outcome, c.price FROM checks c JOIN offers o ON o.id = c.offer_id "
            "WHERE o.product_id = ? ORDER BY c.observed_at, c.id", (pid,)).fetchall()
    assert len(rows) == len(stored) == 960
    for row, (key, outcome, price) in zip(rows, stored, strict=True):
        assert (row["offer"], row["outcome"]) == (key, outcome)
        assert Decimal(row["price"]) == Decimal(str(price))


async def test_product_page_has_a_series_per_store(site: Site) -> None:
    """The product page draws one step line per store whose last price is the newest
    stored one, shows the alert mark, and ranges change the number of points."""
    offer, _ = site.offers[0]
    async with aiohttp.ClientSession() as s, s.get(
            f"{site.base}/api/products/{offer.product_id}") as r:
        newest = {o["store"]: o["price"] for o in (await r.json())["offers"]}
    _, _, page = await get(f"{site.base}/products/{offer.product_id}?range=all")
    lines = re.findall(r'<path class="series s\d" d="[^"]+" data-store="([^"]+)" '
                       r'data-points="(\d+)" data-last="([^"]+)"', page)
    assert {store: last for store, _, last in lines} == newest
    assert 'class="mark"' in page
    assert "below target" in page
    _, _, week = await get(f"{site.base}/products/{offer.product_id}/chart?range=7d")
    week_points = re.findall(r'data-points="(\d+)"', week)
    assert week_points
    assert week_points != [n for _, n, _ in lines]


async def test_openapi_lists_every_api_route(site: Site) -> None:
    """The OpenAPI document describes every /api/ route the server answers."""
    async with aiohttp.ClientSession() as s, s.get(site.base + "/api/openapi.json") as r:
        doc = await r.json()
    assert doc["openapi"].startswith("3.")
    assert set(doc["paths"]) == {"/api/products", "/api/products/{product_id}",
                                 "/api/products/{product_id}/history",
                                 "/api/products/{product_id}/checks",
                                 "/api/offers/{offer}/history", "/api/alerts"}
    for path in doc["paths"]:
        concrete = path.replace("{product_id}", site.offers[0][0].product_id).replace(
            "{offer}", site.offers[0][0].key)
        status, _, _ = await get(site.base + concrete)
        assert status == 200, path


async def test_reload_error_banner(site: Site) -> None:
    """A rejected reload shows its file:line message on the pages until one is applied."""
    site.reload_error[0] = "config.yaml:7: products[0].offers[0].url: not an http(s) URL"
    _, _, page = await get(site.base + "/")
    assert "The last config reload was rejected" in page
    assert "config.yaml:7: products[0].offers[0].url" in page
    site.reload_error[0] = None
    _, _, page = await get(site.base + "/")
    assert "reload was rejected" not in page


async def test_filters_and_sorting(site: Site) -> None:
    """Search, store, stock and outcome filters keep only matching offers; sorting by price
    descending puts the dearest product first."""
    _, _, page = await get(site.base + "/", params={"q": "kettle"})
    assert "Kettle" in page
    assert "Backpack" not in page
    _, _, page = await get(site.base + "/", params={"store": "localhost"})
    body = page.split('id="overview"')[1]
    assert 'data-offer="classic-kettle-000@localhost"' in body
    assert "@127.0.0.1" not in body
    _, _, page = await get(site.base + "/", params={"outcome": "blocked"})
    body = page.split('id="overview"')[1]
    assert body.count('class="offer') == 1
    assert "hostile@evil" in body
    async with aiohttp.ClientSession() as s, s.get(site.base + "/api/products") as r:
        products = (await r.json())["products"]
    cheapest = {p["id"]: Decimal(o["price"]) for p in products for o in p["offers"]
                if o["cheapest"]}
    _, _, page = await get(site.base + "/", params={"sort": "price", "dir": "desc"})
    names = re.findall(r'data-product="([^"]+)"', page.split('id="overview"')[1])
    assert names[0] == max(cheapest, key=lambda pid: cheapest[pid])
    priced = [n for n in names if n in cheapest]
    assert names[:len(priced)] == priced  # products without a price come last


async def test_basic_auth(tmp_path: Path) -> None:
    """With server.auth, pages and API need the user and password; health stays open, and
    /metrics too unless auth.metrics is set."""
    engine = create_engine(f"sqlite:///{tmp_path}/auth.db")
    now = current_now()
    offers, hostile = await fill(engine, now)
    auth = ServerAuthConfig(username="me", password=SecretStr("s3cret"), metrics=False)
    site, runner = await start_site(engine, offers, hostile, now, auth=auth)
    good = "Basic " + base64.b64encode(b"me:s3cret").decode()
    bad = "Basic " + base64.b64encode(b"me:wrong").decode()
    try:
        for path in ("/", "/api/products", "/products/hostile", "/offers.json"):
            status, headers, _ = await get(site.base + path)
            assert status == 401, path
            assert headers["WWW-Authenticate"].startswith("Basic")
            assert (await get(site.base + path, headers={"Authorization": bad}))[0] == 401
            assert (await get(site.base + path, headers={"Authorization": good}))[0] == 200
        for path in ("/healthz", "/readyz", "/metrics"):
            assert (await get(site.base + path))[0] == 200, path
    finally:
        await runner.cleanup()
    strict = ServerAuthConfig(username="me", password=SecretStr("s3cret"), metrics=True)
    site, runner = await start_site(engine, offers, hostile, now, auth=strict)
    try:
        assert (await get(site.base + "/metrics"))[0] == 401
        assert (await get(site.base + "/healthz"))[0] == 200
    finally:
        await runner.cleanup()
        await engine.dispose()


async def test_database_unreachable(tmp_path: Path, free_port: int) -> None:
    """With the database down the overview still answers from the daemon's memory with a
    banner, and the API says 503 instead of failing."""
    good = create_engine(f"sqlite:///{tmp_path}/up.db")
    now = current_now()
    offers, hostile = await fill(good, now)
    await good.dispose()
    down = create_engine(f"postgresql://postgres@127.0.0.1:{free_port}/none")
    site, runner = await start_site(down, offers, hostile, now)
    try:
        status, _, page = await get(site.base + "/")
        assert status == 200
        assert "The database is unreachable" in page
        assert offers[0][1].name in page
        assert (await get(site.base + "/api/products"))[0] == 503
        assert (await get(site.base + f"/products/{offers[0][0].product_id}"))[0] == 503
        assert "Traceback" not in page
    finally:
        await runner.cleanup()
        await down.dispose()


@pytest.mark.postgres
async def test_postgres_matches_sqlite(tmp_path: Path, postgres_url: str) -> None:
    """The same history gives the same API answers on PostgreSQL as on SQLite."""
    now = current_now()
    answers = []
    for url in (f"sqlite:///{tmp_path}/same.db", postgres_url):
        engine = create_engine(url)
        offers, hostile = await fill(engine, now)
        site, runner = await start_site(engine, offers, hostile, now)
        try:
            key = offers[0][0].key
            async with aiohttp.ClientSession() as s:
                async with s.get(site.base + "/api/products") as r:
                    products = await r.json()
                # An explicit, unaligned until: the bucket grid is the same on both and no
                # check sits on a bucket edge.
                until = (now - timedelta(seconds=417)).isoformat()
                async with s.get(f"{site.base}/api/offers/{key}/history",
                                 params={"max_points": "60", "until": until}) as r:
                    series = await r.json()
            status, _, _page = await get(site.base + f"/products/{offers[0][0].product_id}")
            assert status == 200
            answers.append((products, series))
        finally:
            await runner.cleanup()
            await engine.dispose()
    assert answers[0] == answers[1]


async def test_product_image_is_shown_only_from_http(site: Site) -> None:
    """The product page shows the offer's stored picture when it is an http(s) URL, and no
    image at all for any other scheme."""
    from sqlalchemy import update

    from pricewatch.db.tables import offers

    pid = site.offers[0][0].product_id
    for url, shown in (("https://shop.example/kettle.png", True),
                       ("javascript:alert(1)", False)):
        async with site.engine.begin() as conn:
            await conn.execute(update(offers).where(offers.c.product_id == pid)
                               .values(image_url=url))
        _, headers, page = await get(f"{site.base}/products/{pid}")
        assert ('<img class="product-image" src="https://shop.example/kettle.png"' in page) \
            is shown, url
        assert "javascript:alert" not in page
    assert "img-src 'self' data: https: http:" in headers["Content-Security-Policy"]


async def test_lowest_prices_follow_new_checks(site: Site) -> None:
    """The server keeps every offer's lowest price between requests: a check written after
    the first request with a new lowest price shows in the next one (API and sort)."""
    from sqlalchemy import select

    from pricewatch.db.repository import PendingCheck, insert_checks
    from pricewatch.db.tables import offers
    from pricewatch.models import Check, Outcome

    async def lowest() -> dict[str, str | None]:
        async with aiohttp.ClientSession() as s, s.get(site.base + "/api/products") as r:
            return {o["offer"]: o["lowest"] for p in (await r.json())["products"]
                    for o in p["offers"]}

    before = await lowest()
    offer = site.offers[-1][0]
    assert before[offer.key] != "0.5"
    async with site.engine.begin() as conn:
        oid = (await conn.execute(select(offers.c.id).where(offers.c.key == offer.key))
               ).scalar_one()
        await insert_checks(conn, [PendingCheck(oid, Check(
            offer.key, site.now, Outcome.OK, price=Decimal("0.5"), currency="USD",
            in_stock=True))])
    after = await lowest()
    assert after[offer.key] == "0.5"
    assert {k: v for k, v in after.items() if k != offer.key} == {
        k: v for k, v in before.items() if k != offer.key}
    _, _, page = await get(site.base + "/?sort=low")
    first = re.search(r'data-product="([^"]+)"', page)
    assert first is not None
    assert first.group(1) == offer.product_id
