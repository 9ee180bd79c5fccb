"""On SQLite too, a row that cannot be written (refused by the column, or one the code itself
chokes on) is stored as a failed check with its reason, and every other row is written."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, sync_catalog
from pricewatch.db.tables import checks
from pricewatch.db.writer import CheckWriter
from pricewatch.models import Check, Outcome
from tests.unit.test_config import GOOD, load_text

T0 = datetime(2026, 1, 2, tzinfo=UTC)


async def test_bad_rows_are_failed_checks_and_the_rest_is_written(tmp_path: Path) -> None:
    """Among 40 rows, a negative price, a 10^15 price and a row whose outcome is no Outcome
    each become an error check naming the cause; the 37 others are written as they were."""
    engine = create_engine(f"sqlite:///{tmp_path / 'w.db'}")
    try:
        await migrate.upgrade(engine)
        settings = load_text(tmp_path, GOOD, {"TOKEN": "t"})
        key = settings.offers()[0].key
        async with engine.begin() as conn:
            oid = (await sync_catalog(conn, settings.offers(), T0))[key]

        def row(i: int) -> Check:
            return Check(key, T0 + timedelta(seconds=i), Outcome.OK, price=Decimal("9.99"),
                         currency="EUR")

        rows = [row(i) for i in range(40)]
        for i, (field, value) in {5: ("price", Decimal(-5)), 17: ("price", Decimal(10) ** 15),
                                  30: ("outcome", "not-an-outcome")}.items():
            object.__setattr__(rows[i], field, value)
        writer = CheckWriter(engine, batch_size=1000)
        for check in rows:
            writer.add(PendingCheck(oid, check))
        assert await writer.flush() == 40
        async with engine.connect() as conn:
            stored = (await conn.execute(select(checks.c.outcome, checks.c.price, checks.c.error)
                                         .order_by(checks.c.observed_at))).all()
        assert [r.outcome for r in stored].count("ok") == 37
        bad = {i: r for i, r in enumerate(stored) if r.outcome != "ok"}
        assert sorted(bad) == [5, 17, 30]
        assert all(r.outcome == "error" and r.price is None for r in bad.values())
        assert "-5" in bad[5].error
        assert "10^14" in bad[17].error
        assert "AttributeError" in bad[30].error
        assert writer.pending == 0
    finally:
        await engine.dispose()
