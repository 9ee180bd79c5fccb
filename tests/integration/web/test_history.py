"""The web UI's history queries (pricewatch.db.history) against a Python reference, on SQLite
and PostgreSQL."""

from __future__ import annotations

import random
import statistics
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.db import history as h
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.models import Check, Outcome
from tests.integration.web.conftest import demo_offers

START = datetime(2026, 1, 1, tzinfo=UTC)
END = START + timedelta(days=60)


def made_up() -> list[Check]:
    """Irregular checks of one offer: random prices, sold-out spells, failures in between,
    and a spell in another currency."""
    rng = random.Random(7)
    out = []
    at = START
    while True:
        at += timedelta(seconds=rng.randint(60, 7200))
        if at >= END:
            return out
        roll = rng.random()
        if roll < 0.1:
            out.append(Check("x", at, Outcome.TIMEOUT, error="timed out"))
        elif roll < 0.15:
            out.append(Check("x", at, Outcome.NO_PRICE, error="no price found"))
        else:
            currency = "EUR" if START + timedelta(days=20) < at < START + timedelta(days=22) \
                else "USD"
            price = Decimal(rng.randint(1000, 99999)) / 100
            out.append(Check("x", at, Outcome.OK, price=price, currency=currency,
                             in_stock=rng.random() > 0.1))


Stored = tuple[AsyncEngine, int, list[Check]]


async def store(url: str) -> Stored:
    """One offer with the made-up history."""
    engine = create_engine(url)
    await migrate.upgrade(engine)
    offer = demo_offers()[0][0]
    rows = [replace(c, offer_key=offer.key) for c in made_up()]
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, [offer], START)
        await insert_checks(conn, [PendingCheck(ids[offer.key], c) for c in rows])
    return engine, ids[offer.key], rows


@pytest.fixture
async def sqlite_rows(tmp_path: Path) -> AsyncIterator[Stored]:
    stored = await store(f"sqlite:///{tmp_path}/h.db")
    yield stored
    await stored[0].dispose()


@pytest.fixture
async def postgres_rows(postgres_url: str) -> AsyncIterator[Stored]:
    stored = await store(postgres_url)
    yield stored
    await stored[0].dispose()


async def test_sqlite_downsampling(sqlite_rows: Stored) -> None:
    """On SQLite: see ``downsampling_keeps_every_extreme``."""
    await downsampling_keeps_every_extreme(sqlite_rows)


@pytest.mark.postgres
async def test_postgres_downsampling(postgres_rows: Stored) -> None:
    """On PostgreSQL: see ``downsampling_keeps_every_extreme``."""
    await downsampling_keeps_every_extreme(postgres_rows)


async def test_sqlite_stats(sqlite_rows: Stored) -> None:
    """On SQLite: see ``stats_and_details_match_the_rows``."""
    await stats_and_details_match_the_rows(sqlite_rows)


@pytest.mark.postgres
async def test_postgres_stats(postgres_rows: Stored) -> None:
    """On PostgreSQL: see ``stats_and_details_match_the_rows``."""
    await stats_and_details_match_the_rows(postgres_rows)


async def downsampling_keeps_every_extreme(stored: Stored) -> None:
    """Each currency is its own series; downsampled to max_points it keeps the first and last
    check, every bucket's lowest and highest price, and stays within max_points."""
    engine, oid, rows = stored
    async with engine.connect() as conn:
        series = await h.downsampled(conn, [oid], None, END, max_points=80)
        full = await h.downsampled(conn, [oid], None, END, max_points=100_000)
    assert {s.currency for s in series} == {"USD", "EUR"}
    for one, whole in zip(series, full, strict=True):
        good = [c for c in rows if c.outcome is Outcome.OK and c.currency == one.currency]
        assert whole.checks == one.checks == len(good)
        assert [p.price for p in whole.points] == [c.price for c in good]
        if len(good) <= 80:
            assert not one.downsampled
            continue
        assert one.downsampled
        assert len(one.points) <= 80
        assert (one.points[0].at, one.points[0].price) == (good[0].observed_at, good[0].price)
        assert (one.points[-1].at, one.points[-1].price) == (good[-1].observed_at,
                                                             good[-1].price)
        assert (one.low, one.high) == (min(c.price for c in good), max(c.price for c in good))
        # The reference grid: the same buckets the SQL made, from the first good check.
        t0 = next(c for c in rows if c.outcome is Outcome.OK).observed_at.timestamp()
        width = (END.timestamp() - t0) / 20
        buckets: dict[int, list[Check]] = {}
        for c in good:
            buckets.setdefault(int((c.observed_at.timestamp() - t0) // width), []).append(c)
        kept = [(p.at, p.price) for p in one.points]
        for members in buckets.values():
            lo = min(c.price for c in members)
            hi = max(c.price for c in members)
            inside = {price for at, price in kept
                      if members[0].observed_at <= at <= members[-1].observed_at}
            assert {lo, hi} <= inside


async def stats_and_details_match_the_rows(stored: Stored) -> None:
    """The overview's newest check, newest price, lowest/highest (and when), previous price,
    price 30 days before and the median equal what the rows say."""
    engine, oid, rows = stored
    good = [c for c in rows if c.outcome is Outcome.OK]
    newest = good[-1]
    same = [c for c in good if c.currency == newest.currency]
    async with engine.connect() as conn:
        (stats,) = await h.offer_stats(conn)
        details = (await h.offer_details(conn, [oid], END))[oid]
        median = await h.median_price(conn, oid, "USD", since=None, until=None,
                                      count=len(same))
    assert stats.checked_at == rows[-1].observed_at
    assert stats.outcome == rows[-1].outcome.value
    assert (stats.priced_at, stats.price) == (newest.observed_at, newest.price)
    assert (stats.low, stats.high) == (min(c.price for c in same), max(c.price for c in same))
    assert details.low_at == max(c.observed_at for c in same if c.price == stats.low)
    assert details.high_at == max(c.observed_at for c in same if c.price == stats.high)
    assert details.previous == next(c.price for c in reversed(same) if c.price != newest.price)
    month = END - timedelta(days=30)
    assert details.ago_30d == [c for c in same if c.observed_at <= month][-1].price
    assert details.spark
    assert median == statistics.median([c.price for c in same])
