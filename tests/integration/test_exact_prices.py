"""Prices are exact decimals on both databases, and the queries over them still order, compare
and aggregate correctly with SQLite's text storage."""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.alerts.rules import Fact
from pricewatch.db import alerts as alert_rows
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.errors import mapped
from pricewatch.db.repository import PendingCheck, history, insert_checks, sync_catalog
from pricewatch.db.tables import checks
from pricewatch.errors import StorageError
from pricewatch.models import Check, Outcome
from tests.unit.test_config import GOOD, load_text

EXTREMES = [Decimal("99999999999999.999999"), Decimal("0.000001"), Decimal("24.99"),
            Decimal("99999999999999.99"), Decimal("1226")]
T0 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


async def _engine(url: str) -> AsyncEngine:
    engine = create_engine(url)
    await migrate.upgrade(engine)
    return engine


async def _store(engine: AsyncEngine, tmp_path: Path, prices: list[Decimal]) -> str:
    settings = load_text(tmp_path, GOOD, {"TOKEN": "t"})
    key = settings.offers()[0].key
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, settings.offers(), T0)
        await insert_checks(conn, [
            PendingCheck(ids[key], Check(key, T0 + timedelta(minutes=i), Outcome.OK,
                                         price=p, currency="USD"))
            for i, p in enumerate(prices)])
    return key


async def roundtrip(url: str, tmp_path: Path) -> None:
    engine = await _engine(url)
    try:
        key = await _store(engine, tmp_path, EXTREMES)
        async with engine.connect() as conn:
            back = [c.price for c in reversed(await history(conn, key))]
        assert back == EXTREMES
        assert [str(p) for p in back] == ["99999999999999.999999", "0.000001", "24.99",
                                          "99999999999999.99", "1226"]
    finally:
        await engine.dispose()


async def test_sqlite_prices_are_exact(tmp_path: Path) -> None:
    """99999999999999.999999 and 0.000001 come back from SQLite digit for digit."""
    await roundtrip(f"sqlite:///{tmp_path / 'p.db'}", tmp_path)


@pytest.mark.postgres
async def test_postgres_prices_are_exact(postgres_url: str, tmp_path: Path) -> None:
    """The same prices come back from PostgreSQL digit for digit."""
    await roundtrip(postgres_url, tmp_path)


async def aggregates(url: str, tmp_path: Path) -> None:
    engine = await _engine(url)
    try:
        # As text, "100" < "25" < "9.5": the stored form must sort like the numbers.
        prices = [Decimal("100"), Decimal("9.5"), Decimal("25"), Decimal("1000.01"),
                  Decimal("0.5")]
        key = await _store(engine, tmp_path, prices)
        judged = Check(key, T0 + timedelta(days=1), Outcome.OK, price=Decimal(1), currency="USD")
        async with engine.connect() as conn:
            facts = await alert_rows.facts(conn, key, judged, [
                Fact("min"), Fact("median"), Fact("previous")])
            ordered = (await conn.execute(select(checks.c.price).order_by(checks.c.price))
                       ).scalars().all()
            cheap = (await conn.execute(select(checks.c.price).where(
                checks.c.price < Decimal("10")).order_by(checks.c.price))).scalars().all()
        assert facts[Fact("min")] == Decimal("0.5")
        assert facts[Fact("median")] == Decimal("25")
        assert facts[Fact("previous")] == Decimal("0.5")
        assert list(ordered) == sorted(prices)
        assert list(cheap) == [Decimal("0.5"), Decimal("9.5")]
    finally:
        await engine.dispose()


async def test_sqlite_price_queries_order_numerically(tmp_path: Path) -> None:
    """On SQLite, min, median, ORDER BY and < over prices give the numbers' answers."""
    await aggregates(f"sqlite:///{tmp_path / 'a.db'}", tmp_path)


@pytest.mark.postgres
async def test_postgres_price_queries_order_numerically(postgres_url: str,
                                                        tmp_path: Path) -> None:
    """The same queries give the same answers on PostgreSQL."""
    await aggregates(postgres_url, tmp_path)


@pytest.mark.parametrize("price", [Decimal("100000000000000"), Decimal("-5")])
async def test_out_of_range_price_is_refused_by_the_column(tmp_path: Path,
                                                           price: Decimal) -> None:
    """A price outside 0 <= p < 10^14 never reaches SQLite as a wrong value: it is refused."""
    engine = await _engine(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        settings = load_text(tmp_path, GOOD, {"TOKEN": "t"})
        key = settings.offers()[0].key
        async with engine.begin() as conn:
            ids = await sync_catalog(conn, settings.offers(), T0)
        bad = Check(key, T0, Outcome.OK, price=Decimal(1), currency="USD")
        object.__setattr__(bad, "price", price)  # past the model's own validation
        with pytest.raises(StorageError, match="outside"), mapped("write"):
            async with engine.begin() as conn:
                await insert_checks(conn, [PendingCheck(ids[key], bad)])
    finally:
        await engine.dispose()


async def test_migration_0003_converts_sqlite_floats(tmp_path: Path) -> None:
    """Prices stored as REAL by revision 0002 read back as exact decimals after upgrading."""
    path = tmp_path / "old.db"
    engine = create_engine(f"sqlite:///{path}")
    try:
        await migrate.upgrade(engine, "0002")
        settings = load_text(tmp_path, GOOD, {"TOKEN": "t"})
        async with engine.begin() as conn:
            ids = await sync_catalog(conn, settings.offers(), T0)
        key = settings.offers()[0].key
        raw = sqlite3.connect(path)
        raw.executemany(
            "INSERT INTO checks (offer_id, observed_at, outcome, price, currency, duration_ms,"
            " attempts, unchanged) VALUES (?, ?, 'ok', ?, 'USD', 1, 1, 0)",
            [(ids[key], f"2026-01-0{i + 1} 00:00:00.000000", p)
             for i, p in enumerate([24.99, 423.923, 1226.0, 0.000001])])
        raw.execute("INSERT INTO checks (offer_id, observed_at, outcome, duration_ms, attempts,"
                    " unchanged, error) VALUES (?, '2026-01-09 00:00:00.000000', 'timeout', 1,"
                    " 1, 0, 'timed out')", (ids[key],))
        raw.commit()
        assert raw.execute("SELECT typeof(price) FROM checks LIMIT 1").fetchone() == ("real",)
        raw.close()
        await migrate.upgrade(engine)
        assert await migrate.drift(engine) == []
        async with engine.connect() as conn:
            back = [c.price for c in reversed(await history(conn, key))]
        assert back == [Decimal("24.99"), Decimal("423.923"), Decimal("1226"),
                        Decimal("0.000001"), None]
        raw = sqlite3.connect(path)
        assert raw.execute("SELECT price FROM checks ORDER BY id LIMIT 1").fetchone() == (
            "00000000000024.990000",)
        raw.close()
    finally:
        await engine.dispose()
