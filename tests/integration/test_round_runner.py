"""The round runner against a real shop on 127.0.0.1 and real databases."""

from __future__ import annotations

import asyncio
import contextlib
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.config import HttpConfig
from pricewatch.db import migrate, tables
from pricewatch.db.database import load_previous
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import sync_catalog
from pricewatch.db.writer import CheckWriter
from pricewatch.fetch import Fetcher
from pricewatch.models import ExtractSpec, FetchOptions, Offer, Outcome
from pricewatch.runtime.rounds import run_round
from pricewatch.runtime.workers import make_extractor

PAGES = 30
Handler = Callable[[web.Request], Awaitable[web.Response]]


def _price(i: int) -> Decimal:
    return Decimal(1000 + 37 * i) / 100


def _page(i: int) -> str:
    filler = "".join(f'<li class="tile">Item {n} <span class="p">$9.{n % 10}0</span></li>'
                     for n in range(200))
    return (f"<html><body><ul>{filler}</ul><h1>Product {i}</h1><div class='buybox'>"
            f"<span class='price'>${_price(i)}</span></div></body></html>")


@contextlib.asynccontextmanager
async def _serve(handler: Handler) -> AsyncIterator[str]:
    """A shop on 127.0.0.1 whose /p/{i} pages ``handler`` answers; yields its base URL."""
    app = web.Application()
    app.router.add_get("/p/{i}", handler)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        await runner.cleanup()


@pytest.fixture
async def shop() -> AsyncIterator[str]:
    async def page(request: web.Request) -> web.Response:
        return web.Response(text=_page(int(request.match_info["i"])), content_type="text/html")

    async with _serve(page) as base:
        yield base


async def _count_checks(engine: AsyncEngine) -> int:
    async with engine.connect() as conn:
        return int((await conn.execute(
            select(func.count()).select_from(tables.checks))).scalar_one())


def _offers(base: str, n: int) -> list[Offer]:
    fetch = FetchOptions(user_agent="pricewatch-test", per_host_concurrency=4,
                         per_host_delay=0.0)
    spec = ExtractSpec(selector=".buybox .price")
    return [Offer(f"p{i}", f"Product {i}", "shop", f"{base}/p/{i}", spec, fetch, 3600.0)
            for i in range(n)]


async def _database(path: Path) -> AsyncEngine:
    engine = create_engine(f"sqlite:///{path}")
    await migrate.upgrade(engine)
    return engine


@pytest.mark.parametrize("workers", [None, 0, 2])
async def test_round_stores_every_price_in_the_loop_in_threads_and_in_worker_processes(
    shop: str, tmp_path: Path, workers: int | None
) -> None:
    """Parsing in the loop, on threads or in worker processes gives the same, correct price
    for every page."""
    engine = await _database(tmp_path / "pw.db")
    offers = _offers(shop, PAGES)
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, offers, datetime.now(UTC))
    writer = CheckWriter(engine)
    extractor = contextlib.nullcontext(None) if workers is None else make_extractor(workers)
    async with extractor as parser, Fetcher(HttpConfig(per_host_delay=0)) as fetcher:
        summary = await run_round(offers, fetcher=fetcher, writer=writer, ids=ids,
                                  extractor=parser)
    await writer.close()
    prices = {c.offer_key: c.price for c in summary.checks if c.outcome is Outcome.OK}
    assert prices == {o.key: _price(i) for i, o in enumerate(offers)}
    assert await _count_checks(engine) == PAGES
    await engine.dispose()


async def test_round_streams_rows_to_the_database_before_the_writer_is_closed(
    tmp_path: Path,
) -> None:
    """Rows of finished checks are in the database while the round still runs: the round's
    first page is held open by the shop until a second connection has read earlier rows."""
    rows_seen = asyncio.Event()
    held: dict[str, bool] = {}

    async def page(request: web.Request) -> web.Response:
        i = int(request.match_info["i"])
        if i == 0:
            # Bounded, so a writer that holds its rows fails the test instead of hanging it.
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(rows_seen.wait(), timeout=20)
            held["released_by_rows"] = rows_seen.is_set()
        return web.Response(text=_page(i), content_type="text/html")

    engine = await _database(tmp_path / "pw.db")
    batch_written = asyncio.Event()
    writer = CheckWriter(engine, batch_size=5,
                         on_write=lambda _rows, _seconds: batch_written.set())

    async def watch() -> None:
        """Reads the table from its own connection after each batch the writer reports."""
        while True:
            await batch_written.wait()
            batch_written.clear()
            if await _count_checks(engine) >= 5:
                rows_seen.set()
                return

    async with _serve(page) as base:
        offers = _offers(base, PAGES)  # p0 first: one lane worker waits on it from the start
        async with engine.begin() as conn:
            ids = await sync_catalog(conn, offers, datetime.now(UTC))
        watcher = asyncio.create_task(watch())
        async with Fetcher(HttpConfig(per_host_delay=0)) as fetcher:
            summary = await run_round(offers, fetcher=fetcher, writer=writer, ids=ids)
        watcher.cancel()
    assert held == {"released_by_rows": True}, "no row reached the database during the round"
    assert summary.outcomes == {Outcome.OK: PAGES}
    await writer.close()
    assert await _count_checks(engine) == PAGES
    await engine.dispose()


@pytest.fixture
async def postgres_engine() -> AsyncIterator[AsyncEngine]:
    asyncpg = pytest.importorskip("asyncpg")
    name = f"pricewatch_test_rounds_{os.getpid()}"
    admin = "postgresql://postgres@127.0.0.1:5432/postgres"
    try:
        conn = await asyncpg.connect(admin, timeout=3)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("PRICEWATCH_REQUIRE_POSTGRES"):
            raise
        pytest.skip(f"PostgreSQL at 127.0.0.1:5432 is not reachable: {exc}")
    try:
        await conn.execute(f"DROP DATABASE IF EXISTS {name}")
        await conn.execute(f"CREATE DATABASE {name}")
        engine = create_engine(f"postgresql://postgres@127.0.0.1:5432/{name}")
        await migrate.upgrade(engine)
        yield engine
        await engine.dispose()
    finally:
        # FORCE: a failed test may leave a pooled connection behind.
        await conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")
        await conn.close()


@pytest.mark.postgres
async def test_catalogue_past_the_postgres_bind_parameter_limit(
    postgres_engine: AsyncEngine,
) -> None:
    """Sync and load_previous work for more offers than asyncpg allows bind parameters; only
    offers with validators (something to send in a conditional request) get a Previous."""
    offers = _offers("http://127.0.0.1:9", 33_000)
    async with postgres_engine.begin() as conn:
        ids = await sync_catalog(conn, offers, datetime.now(UTC))
    assert len(ids) == 33_000
    assert await load_previous(postgres_engine, ids) == {}
    async with postgres_engine.begin() as conn:
        await conn.execute(update(tables.offers).values(etag='"v1"'))
    previous = await load_previous(postgres_engine, ids)
    assert len(previous) == 33_000
    assert {p.etag for p in previous.values()} == {'"v1"'}
