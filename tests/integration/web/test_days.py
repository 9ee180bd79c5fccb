"""check_days, the per-day summary of good checks: the writer keeps it equal to the checks
(batch by batch, as the migration fills it), and long ranges drawn from it keep every
minimum and maximum and the exact ends, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.db import history as h
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.db.rollup import day_of
from pricewatch.db.tables import check_days
from pricewatch.models import Check, Outcome
from tests.integration.web.conftest import demo_offers

MIGRATION = Path(__file__).resolve().parents[3] / "migrations/versions/0006_evidence_and_days.py"
START = datetime(2026, 1, 1, 7, 30, tzinfo=UTC)
END = START + timedelta(days=40)


def made_up() -> list[Check]:
    """Irregular checks over 40 days: random prices, sold-out spells, failures, a spell in
    another currency, and pairs of checks at the same instant."""
    rng = random.Random(11)
    out: list[Check] = []
    at = START
    while at < END:
        at += timedelta(seconds=rng.choice([0, rng.randint(30, 3000)]))
        roll = rng.random()
        if roll < 0.1:
            out.append(Check("x", at, Outcome.TIMEOUT, error="timed out"))
            continue
        currency = "EUR" if START + timedelta(days=9) < at < START + timedelta(days=11) \
            else "USD"
        out.append(Check("x", at, Outcome.OK, price=Decimal(rng.randint(100, 99999)) / 100,
                         currency=currency, in_stock=rng.random() > 0.15))
    return out


Stored = tuple[AsyncEngine, int, list[Check]]


async def store(url: str) -> Stored:
    """One offer with the made-up history, written in batches of random sizes."""
    engine = create_engine(url)
    await migrate.upgrade(engine)
    offer = demo_offers()[0][0]
    rows = [replace(c, offer_key=offer.key) for c in made_up()]
    rng = random.Random(3)
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, [offer], START)
    at = 0
    while at < len(rows):
        size = rng.randint(1, 400)
        async with engine.begin() as conn:
            await insert_checks(conn, [PendingCheck(ids[offer.key], c)
                                       for c in rows[at:at + size]])
        at += size
    return engine, ids[offer.key], rows


@pytest.fixture
async def sqlite_days(tmp_path: Path) -> AsyncIterator[Stored]:
    stored = await store(f"sqlite:///{tmp_path}/d.db")
    yield stored
    await stored[0].dispose()


@pytest.fixture
async def postgres_days(postgres_url: str) -> AsyncIterator[Stored]:
    stored = await store(postgres_url)
    yield stored
    await stored[0].dispose()


def reference(rows: list[Check]) -> dict[tuple[str, int], tuple[Any, ...]]:
    """check_days as the rows say: per (currency, day) the count, lowest, highest, first and
    last check (time, price; the earlier written first on a tie) and sold-out count."""
    out: dict[tuple[str, int], list[Check]] = {}
    for c in rows:
        if c.outcome is Outcome.OK and c.currency is not None:
            out.setdefault((c.currency, day_of(c.observed_at)), []).append(c)
    result = {}
    for key, members in out.items():
        prices = [c.price for c in members if c.price is not None]
        first = min(members, key=lambda c: c.observed_at)
        last = max(reversed(members), key=lambda c: c.observed_at)
        result[key] = (len(members), min(prices), max(prices), first.observed_at, first.price,
                       last.observed_at, last.price, sum(c.in_stock is False for c in members))
    return result


async def stored_days(engine: AsyncEngine) -> dict[tuple[str, int], tuple[Any, ...]]:
    async with engine.connect() as conn:
        rows = (await conn.execute(select(check_days))).all()
    return {(r.currency, r.day): (r.checks, r.low, r.high, r.first_at, r.first_price,
                                  r.last_at, r.last_price, r.sold_out) for r in rows}


async def days_follow_the_checks(stored: Stored) -> None:
    """The days the writer kept over many batches equal the reference, and so do the days
    migration 0006 computes from the checks alone."""
    engine, oid, rows = stored
    # Two more checks at the newest check's instant, in batches of their own: the later
    # written is the day's last, as the checks' ids order them.
    newest = rows[-1]
    for cents in (4242, 4343):
        check = Check(newest.offer_key, newest.observed_at, Outcome.OK,
                      price=Decimal(cents) / 100, currency="USD", in_stock=True)
        async with engine.begin() as conn:
            await insert_checks(conn, [PendingCheck(oid, check)])
        rows.append(check)
    expected = reference(rows)
    assert expected[("USD", day_of(newest.observed_at))][6] == Decimal("43.43")
    assert await stored_days(engine) == expected
    async with engine.begin() as conn:
        await conn.execute(check_days.delete())
    await _refill(engine)
    assert await stored_days(engine) == expected


async def _refill(engine: AsyncEngine) -> None:
    """Migration 0006's fill, run again over the stored checks."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("m0006", MIGRATION)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    async with engine.begin() as conn:
        await conn.exec_driver_sql(module._FILL.format(day=module._DAY[conn.dialect.name]))


async def long_ranges_keep_extremes(stored: Stored) -> None:
    """Drawn from days, a range cut mid-day at both ends holds exactly its checks: the same
    count, lowest and highest, first and last check as the rows, and every day's lowest and
    highest price among the points, within max_points."""
    engine, oid, rows = stored
    since, until = START + timedelta(days=3, hours=5), END - timedelta(days=2, hours=7)
    async with engine.connect() as conn:
        series = await h.downsampled(conn, [oid], since, until, max_points=200,
                                     by_day_above=100)
    assert {s.currency for s in series} == {"USD", "EUR"}
    for one in series:
        good = [c for c in rows if c.outcome is Outcome.OK and c.currency == one.currency
                and since <= c.observed_at <= until]
        assert one.checks == len(good) > 200
        assert len(one.points) <= 200
        assert (one.low, one.high) == (min(c.price for c in good), max(c.price for c in good))
        assert (one.points[0].at, one.points[0].price) == (good[0].observed_at, good[0].price)
        assert (one.points[-1].at, one.points[-1].price) == (good[-1].observed_at,
                                                             good[-1].price)
        kept = {p.price for p in one.points}
        for day in {day_of(c.observed_at) for c in good}:
            members = [c.price for c in good if day_of(c.observed_at) == day]
            assert {min(members), max(members)} <= kept
        assert all(a.at <= b.at for a, b in zip(one.points, one.points[1:], strict=False))


async def test_sqlite_days_follow_the_checks(sqlite_days: Stored) -> None:
    """On SQLite: see ``days_follow_the_checks``."""
    await days_follow_the_checks(sqlite_days)


@pytest.mark.postgres
async def test_postgres_days_follow_the_checks(postgres_days: Stored) -> None:
    """On PostgreSQL: see ``days_follow_the_checks``."""
    await days_follow_the_checks(postgres_days)


async def test_sqlite_long_ranges_keep_extremes(sqlite_days: Stored) -> None:
    """On SQLite: see ``long_ranges_keep_extremes``."""
    await long_ranges_keep_extremes(sqlite_days)


@pytest.mark.postgres
async def test_postgres_long_ranges_keep_extremes(postgres_days: Stored) -> None:
    """On PostgreSQL: see ``long_ranges_keep_extremes``."""
    await long_ranges_keep_extremes(postgres_days)


async def test_a_retried_slot_is_neither_stored_nor_counted_twice(
        sqlite_days: Stored) -> None:
    """Cluster mode: a slice retried after its replica died may bring a check for a slot that
    is stored already; the table keeps one row and the day's summary counts it once."""
    engine, oid, rows = sqlite_days
    at = rows[-1].observed_at + timedelta(minutes=5)
    first = Check(rows[-1].offer_key, at, Outcome.OK, price=Decimal("12.34"),
                  currency="USD", in_stock=True)
    again = replace(first, observed_at=at + timedelta(seconds=1), price=Decimal("99.99"))
    slot = int(at.timestamp() * 1000)
    for check in (first, again):
        async with engine.begin() as conn:
            await insert_checks(conn, [PendingCheck(oid, check, slot=slot)])
    rows.append(first)
    assert await stored_days(engine) == reference(rows)
