"""A database with days of generated demo-shop history, and the web UI served over it."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import insert
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.config import loads
from pricewatch.config.schema import ServerAuthConfig
from pricewatch.db import history as h
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.db.tables import alerts
from pricewatch.demo.catalog import DemoProduct, catalog
from pricewatch.demo.history import generate
from pricewatch.models import Check, Offer, Outcome
from pricewatch.runtime.web import OfferStatus, make_app, serve

HOSTILE = '<img src=x onerror="window.__pwned=1">'
EVIL_URL = "javascript:window.__pwned=2"
DAYS = 10
EVERY = 1800.0  # a check every half hour: 480 per offer
PRODUCTS = 6


def demo_offers() -> list[tuple[Offer, DemoProduct]]:
    """Each demo product at two stores (the second a little dearer, on another curve)."""
    products = catalog(PRODUCTS)
    lines = ["products:"]
    for p in products:
        lines += [f"  - id: {p.id}", f"    name: {p.name}", "    offers:",
                  f"      - url: http://127.0.0.1:9{p.path}",
                  f"      - url: http://localhost:9{p.path}"]
    settings = loads("\n".join(lines) + "\n")
    by_id = {p.id: p for p in products}
    out = []
    for offer in settings.offers():
        product = by_id[offer.product_id]
        if offer.store != "127.0.0.1":
            product = replace(product, base=product.base + 7, phase=product.phase + 1.3)
        out.append((offer, product))
    return out


@dataclass
class Site:
    base: str
    engine: AsyncEngine
    offers: list[tuple[Offer, DemoProduct]]
    hostile: Offer
    now: datetime
    reload_error: list[str | None]


async def fill(engine: AsyncEngine, now: datetime, *, hostile_offer: bool = True
               ) -> tuple[list[tuple[Offer, DemoProduct]], Offer]:
    """Migrate, write the history, and add a hostile offer (or, for the screenshots, a plain
    one) whose newest check was blocked, and an alert."""
    await migrate.upgrade(engine)
    offers = demo_offers()
    end = now.timestamp()
    await generate(engine, offers, start=end - DAYS * 86400, end=end, every=EVERY)
    first = offers[0][0]
    hostile = replace(first, product_id="hostile", product_name=f"Hostile {HOSTILE}",
                      store="evil", url=EVIL_URL)
    title, error = HOSTILE, f"captcha {HOSTILE}"
    if not hostile_offer:
        hostile = replace(first, product_id="travel-mug", product_name="Travel Mug",
                          store="shop.example", url="https://shop.example/travel-mug")
        title, error = "Travel Mug 450 ml", "bot wall: captcha page"
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, [o for o, _ in offers] + [hostile], now)
        await insert_checks(conn, [
            PendingCheck(ids[hostile.key], Check(
                hostile.key, now - timedelta(hours=1), Outcome.OK, price=Decimal("9.99"),
                currency="USD", in_stock=True, title=title, extractor="jsonld",
                evidence=f"JSON-LD product #1 offers price 9.99; name {title}")),
            PendingCheck(ids[hostile.key], Check(
                hostile.key, now - timedelta(minutes=5), Outcome.BLOCKED, http_status=403,
                error=error)),
        ])
        await conn.execute(insert(alerts).values(
            created_at=now - timedelta(days=2), rule="below", subject=first.key,
            product_id=first.product_id, title=f"{first.product_name} below target",
            body="", payload=json.dumps({}), done=True))
    return offers, hostile


async def live_status(engine: AsyncEngine) -> list[OfferStatus]:
    """What the daemon holds in memory after start-up: each offer's newest check and price,
    read from the database as the daemon's start-up does."""
    async with engine.connect() as conn:
        stats = await h.offer_stats(conn)
    return [OfferStatus(key=s.key, product=s.product_name, store=s.store, url=s.url,
                        price=None if s.price is None else str(s.price), currency=s.currency,
                        in_stock=s.in_stock, priced_at=s.priced_at, checked_at=s.checked_at,
                        outcome=s.outcome, error=s.error, next_check=None)
            for s in stats]


async def start_site(engine: AsyncEngine, offers: list[tuple[Offer, DemoProduct]],
                     hostile: Offer, now: datetime, *, auth: ServerAuthConfig | None = None,
                     live: bool = True) -> tuple[Site, web.AppRunner]:
    """Serve the UI over ``engine``; ``live``: with a daemon's memory of the newest checks
    (else the pages read them from the database)."""
    errors: list[str | None] = [None]
    try:
        memory = await live_status(engine) if live else None
    except Exception:  # the database is down: the daemon would still know its offers
        memory = [OfferStatus(key=o.key, product=o.product_name, store=o.store, url=o.url,
                              price=None, currency=None, in_stock=None, priced_at=None,
                              checked_at=None, outcome=None, error=None, next_check=None)
                  for o, _ in offers]

    async def ready() -> tuple[bool, dict[str, str]]:
        return True, {}

    app = make_app(CollectorRegistry(), ready, None if memory is None else lambda: memory,
                   engine=engine, reload_error=lambda: errors[0], auth=auth)
    runner, port = await serve(app, "127.0.0.1", 0)
    return Site(f"http://127.0.0.1:{port}", engine, offers, hostile, now, errors), runner


def current_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture
async def site(tmp_path: Path) -> AsyncIterator[Site]:
    """The web UI over a SQLite file holding ten days of demo history."""
    engine = create_engine(f"sqlite:///{tmp_path}/web.db")
    now = current_now()
    offers, hostile = await fill(engine, now)
    built, runner = await start_site(engine, offers, hostile, now)
    yield built
    await runner.cleanup()
    await engine.dispose()
