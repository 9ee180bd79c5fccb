"""The web UI's server time on big histories, on SQLite and PostgreSQL.

Builds one database per backend with ``--offers`` offers (two stores per product) of
``--checks`` generated checks each, plus one product whose two stores hold ``--big`` checks
together, then times real HTTP requests to the UI on 127.0.0.1 (median and p90 of
``--runs`` after two warm-ups): the overview ``/`` (first page of 50 products over all
offers) in several sorts, and a fresh server's first sort by lowest price; the big product's
page at every range (the default is the whole history); the history and checks APIs. The
baseline, in the same run, is reading the big product's rows whole (what a chart without
downsampling in SQL would have to load and ship); the ratio says what the SQL buckets save.
The build's "wrote N checks" line includes the writer's upkeep of ``check_days``.

    python -m bench.web [--offers 10000] [--checks 30] [--big 100000] [--databases sqlite,postgres]
    python -m bench.web --url sqlite:///web.db   # an existing database, e.g. to compare builds

Targets (issue 15): product page p50 <= 150 ms, overview p50 <= 500 ms.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import statistics
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import asyncpg
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.config import loads
from pricewatch.db import history as h
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.demo.catalog import DemoProduct, catalog
from pricewatch.demo.history import generate
from pricewatch.models import Offer
from pricewatch.runtime.web import OfferStatus, make_app, serve

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
SCRATCH_DB = "pricewatch_bench_web"  # dropped and made again by each run
BIG = "big-product"


def offers_for(count: int) -> list[tuple[Offer, DemoProduct]]:
    """``count`` offers: count/2 products at two stores, cycling the demo catalogue."""
    demo = catalog(36)
    lines = ["products:"]
    for i in range(count // 2):
        lines += [f"  - id: p{i:06d}", f"    name: Product {i}", "    offers:",
                  f"      - url: http://a.example/p/{i}", f"      - url: http://b.example/p/{i}"]
    settings = loads("\n".join(lines) + "\n")
    return [(o, replace(demo[n // 2 % len(demo)], phase=n * 0.37))
            for n, o in enumerate(settings.offers())]


def big_offers() -> list[tuple[Offer, DemoProduct]]:
    demo = catalog(2)
    settings = loads("products:\n  - id: big-product\n    name: Big Product\n    offers:\n"
                     "      - url: http://a.example/big\n      - url: http://b.example/big\n")
    return [(o, demo[i]) for i, o in enumerate(settings.offers())]


async def build(engine: AsyncEngine, *, offers: int, checks: int, big: int) -> None:
    await migrate.upgrade(engine)
    end = time.time()
    started = time.perf_counter()
    every = 3600.0
    many, large = offers_for(offers), big_offers()
    everything = [o for o, _ in many + large]
    rows = await generate(engine, many, start=end - checks * every, end=end, every=every,
                          catalog=everything)
    per_big = big // 2
    rows += await generate(engine, large, start=end - per_big * 600.0, end=end, every=600.0,
                           catalog=everything)
    print(f"  wrote {rows:,} checks in {time.perf_counter() - started:.1f}s")


PAGES = [("overview /", "/"),
         ("overview by lowest", "/?sort=low"),
         ("overview by highest", "/?sort=high&dir=desc"),
         ("overview by price", "/?sort=price"),
         ("overview by last check", "/?sort=checked&dir=desc"),
         *[(f"product page ({r})", f"/products/{BIG}" + ("" if r == "all" else f"?range={r}"))
           for r in ("all", "1y", "90d", "30d", "7d")],
         ("history API 1000 pts", f"/api/products/{BIG}/history"),
         ("product checks API", f"/api/products/{BIG}/checks")]


async def timed(call: Callable[[], Awaitable[None]], runs: int) -> tuple[float, float]:
    for _ in range(2):
        await call()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        await call()
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return statistics.median(samples), samples[max(0, int(len(samples) * 0.9) - 1)]


async def measure(engine: AsyncEngine, runs: int) -> dict[str, tuple[float, float]]:
    async def ready() -> tuple[bool, dict[str, str]]:
        return True, {}

    # The daemon serves the UI with its memory of every offer's newest check, read from the
    # database at start-up; so does the bench.
    async with engine.connect() as conn:
        memory = [OfferStatus(key=s.key, product=s.product_name, store=s.store, url=s.url,
                              price=None if s.price is None else str(s.price),
                              currency=s.currency, in_stock=s.in_stock, priced_at=s.priced_at,
                              checked_at=s.checked_at, outcome=s.outcome, error=s.error,
                              next_check=None)
                  for s in await h.offer_stats(conn)]
    def app() -> Any:
        return make_app(CollectorRegistry(), ready, lambda: memory, engine=engine)

    runner, port = await serve(app(), "127.0.0.1", 0)
    base = f"http://127.0.0.1:{port}"
    out: dict[str, tuple[float, float]] = {}
    try:
        async with aiohttp.ClientSession() as session:
            async def fetch(path: str) -> Callable[[], Awaitable[None]]:
                async def call() -> None:
                    async with session.get(base + path) as response:
                        assert response.status == 200, (path, response.status)
                        await response.read()
                return call

            for name, path in PAGES:
                out[name] = await timed(await fetch(path), runs)

            async def first() -> None:
                # A server's first sort by lowest price reads every offer's extremes; later
                # ones only the offers checked since.
                fresh, fresh_port = await serve(app(), "127.0.0.1", 0)
                try:
                    async with session.get(f"http://127.0.0.1:{fresh_port}/?sort=low") as r:
                        assert r.status == 200
                        await r.read()
                finally:
                    await fresh.cleanup()
            out["overview by lowest, 1st"] = await timed(first, max(3, runs // 3))

        async def whole() -> None:
            async with engine.connect() as conn:
                ids = [o.id for o in await h.product_offers(conn, BIG)]
                async for _ in h.raw_checks(conn, ids, None, None):
                    pass
        out["baseline: read all rows"] = await timed(whole, max(3, runs // 3))
    finally:
        await runner.cleanup()
    return out


async def run_backend(name: str, args: argparse.Namespace) -> None:
    scratch = None
    if args.url:
        print(f"{args.url}:")
        engine = create_engine(args.url)
        try:
            results = await measure(engine, args.runs)
        finally:
            await engine.dispose()
        print_results(results)
        return
    print(f"{name}: {args.offers:,} offers x {args.checks} checks, one product with "
          f"{args.big:,} checks")
    if name == "sqlite":
        scratch = tempfile.mkdtemp(prefix="pw-bench-web-")
        url = f"sqlite:///{Path(scratch) / 'web.db'}"
    else:
        admin = await asyncpg.connect(PG_ADMIN)
        await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
        await admin.execute(f'CREATE DATABASE "{SCRATCH_DB}"')
        await admin.close()
        url = PG_ADMIN.rsplit("/", 1)[0] + f"/{SCRATCH_DB}"
    engine = create_engine(url)
    try:
        await build(engine, offers=args.offers, checks=args.checks, big=args.big)
        if name == "postgres":
            async with engine.begin() as conn:
                await conn.exec_driver_sql("ANALYZE")
        results = await measure(engine, args.runs)
    finally:
        await engine.dispose()
        if scratch is not None:
            shutil.rmtree(scratch, ignore_errors=True)
        if name == "postgres":
            admin = await asyncpg.connect(PG_ADMIN)
            await admin.execute(f'DROP DATABASE IF EXISTS "{SCRATCH_DB}" WITH (FORCE)')
            await admin.close()
    print_results(results)


def print_results(results: dict[str, tuple[float, float]]) -> None:
    baseline = results["baseline: read all rows"][0]
    for label, (p50, p90) in results.items():
        ratio = "" if label.startswith("baseline") else f"  ({p50 / baseline:.2f}x baseline)"
        print(f"  {label:<26} p50 {p50:8.1f} ms   p90 {p90:8.1f} ms{ratio}")
    report_targets(results)


def report_targets(results: dict[str, tuple[float, float]]) -> None:
    """The slowest product page (any range) and overview (any sort) against the targets."""
    product = max(p50 for label, (p50, _) in results.items() if label.startswith("product p"))
    overview = max(p50 for label, (p50, _) in results.items() if label.startswith("overview"))
    print(f"  targets: slowest product page p50 {product:.0f} ms (<= 150: "
          f"{'met' if product <= 150 else 'MISSED'}), slowest overview p50 {overview:.0f} ms "
          f"(<= 500: {'met' if overview <= 500 else 'MISSED'})")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--checks", type=int, default=30)
    parser.add_argument("--big", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=15)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--url", help="measure this database (built by an earlier run) "
                        "instead of building one")
    args = parser.parse_args()
    for name in [args.url] if args.url else args.databases.split(","):
        asyncio.run(run_backend(name.strip(), args))


if __name__ == "__main__":
    main()
