"""Watching a listing: a `discover:` product that the daemon re-crawls on its interval, with
a `new_product` alert through the alerts system for a product page it had not shown."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from pricewatch import config
from pricewatch.runtime.daemon import Daemon
from tests.conftest import ServeFn, eventually
from tests.integration.discover import shop


@pytest.fixture
async def site() -> AsyncIterator[tuple[str, shop.Log]]:
    log = shop.Log()
    runner, base = await shop.start(log)
    yield base, log
    await runner.cleanup()


def seen(db: Path) -> list[str]:
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return [u for (u,) in conn.execute("SELECT url FROM listing_items")]
    except sqlite3.OperationalError:  # the schema is being created
        return []


async def test_daemon_alerts_once_for_a_product_new_on_the_listing(
        site: tuple[str, shop.Log], serve: ServeFn, tmp_path: Path, free_port: int) -> None:
    """The first crawl of the watched kettles listing stores its six products and alerts
    nothing; when the shop adds one, the next crawl raises exactly one new_product alert,
    which the webhook receives with the new page's URL, title and price; nothing under the
    disallowed section is ever requested."""
    base, log = site
    received: list[dict[str, object]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    hooks = await serve({"/hook": hook})
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
database: {{url: "sqlite:///pw.db"}}
schedule: {{interval: 1h, jitter: 0, shutdown_timeout: 1s}}
server: {{host: 127.0.0.1, port: {free_port}}}
http: {{per_host_delay: 0s}}
alerts:
  channels:
    - name: hook
      webhook: {hooks}/hook
products:
  - id: kettles
    name: Kettles at the kitchen shop
    interval: 1s
    discover:
      url: {base}/c/kettles
      depth: 1
""", encoding="utf-8")
    daemon = Daemon(config.load(path, environ={}), handle_signals=False)
    task = asyncio.create_task(daemon.run())
    db = tmp_path / "pw.db"
    try:
        await eventually(lambda: asyncio.sleep(0, len(seen(db)) >= 6), 30, "the baseline crawl")
        crawled = len(log.pages())
        await eventually(lambda: asyncio.sleep(0, len(log.pages()) > crawled + 3), 30,
                         "a second crawl")
        assert received == []
        log.new.append("new-kettle")
        await eventually(lambda: asyncio.sleep(0, bool(received)), 30, "the new_product alert")
        await asyncio.sleep(2.5)  # two more crawls: the product is no longer new
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
    assert len(received) == 1, received
    alert = received[0]["alert"]
    assert isinstance(alert, dict)
    assert alert["rule"] == "new_product"
    assert alert["url"] == f"{base}/p/new-kettle"
    assert alert["new_price"] == "64"
    assert "New Kettle 2027" in str(alert["reason"])
    assert f"{base}/p/new-kettle" in seen(db)
    assert not [p for p in log.paths() if p.startswith("/private/")]


async def test_crawl_once_on_sqlite(site: tuple[str, shop.Log], tmp_path: Path) -> None:
    """On SQLite: the baseline, then one alert for the one new page (see below)."""
    await _baseline_then_one_alert(site, f"sqlite:///{tmp_path / 'w.db'}")


async def test_crawl_once_on_postgres(site: tuple[str, shop.Log], postgres_url: str) -> None:
    """The same on the real PostgreSQL (listing_items' text key, the alert insert)."""
    await _baseline_then_one_alert(site, postgres_url)


async def _baseline_then_one_alert(site: tuple[str, shop.Log], url: str) -> None:
    """The first crawl stores the listing's pages and raises nothing; a crawl after the shop
    added a page stores one new_product alert row for it; a third crawl raises nothing."""
    from sqlalchemy import func, select

    from pricewatch.alerts.service import AlertService
    from pricewatch.config import loads
    from pricewatch.db import migrate
    from pricewatch.db.engine import create_engine
    from pricewatch.db.tables import alerts as alert_rows
    from pricewatch.fetch import Fetcher
    from pricewatch.runtime.listings import ListingWatcher

    base, log = site
    settings = loads(f"http: {{per_host_delay: 0s}}\nproducts:\n  - id: kettles\n"
                     f"    name: Kettles\n    discover: {{url: '{base}/c/kettles'}}\n")
    (listing,) = settings.listings()
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
        async with Fetcher(settings.model.http) as fetcher, \
                AlertService(settings, engine, grace=0) as service:
            watcher = ListingWatcher(lambda: settings, engine, fetcher, service)
            assert await watcher.crawl_once(listing) == []
            log.new.append("new-kettle")
            (alert,) = await watcher.crawl_once(listing)
            assert alert.url == f"{base}/p/new-kettle"
            assert alert.rule == "new_product"
            assert await watcher.crawl_once(listing) == []
        async with engine.connect() as conn:
            stored = (await conn.execute(select(func.count()).select_from(alert_rows).where(
                alert_rows.c.rule == "new_product"))).scalar_one()
        assert stored == 1
    finally:
        await engine.dispose()
