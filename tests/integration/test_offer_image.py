"""An ok check's product image is stored on its offer; checks without one keep it."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from sqlalchemy import select

from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.db.tables import offers
from pricewatch.models import Check, Outcome
from tests.unit.test_config import GOOD, load_text

IMAGE = "https://shop.example.com/img/lamp.jpg"


async def test_ok_check_stores_image_and_later_checks_keep_it(tmp_path: Path) -> None:
    """offers.image_url takes the image of an ok check; a failed or image-less check leaves it."""
    engine = create_engine(f"sqlite:///{tmp_path / 'i.db'}")
    try:
        await migrate.upgrade(engine)
        settings = load_text(tmp_path, GOOD, {"TOKEN": "t"})
        now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
        key = settings.offers()[0].key
        async with engine.begin() as conn:
            ids = await sync_catalog(conn, settings.offers(), now)
            await insert_checks(conn, [PendingCheck(ids[key], Check(
                key, now, Outcome.OK, price=Decimal("9.5"), currency="EUR", image=IMAGE))])
        async with engine.begin() as conn:
            await insert_checks(conn, [
                PendingCheck(ids[key], Check(key, now, Outcome.OK, price=Decimal("9.4"),
                                             currency="EUR")),
                PendingCheck(ids[key], Check(key, now, Outcome.TIMEOUT, error="slow")),
            ])
        async with engine.connect() as conn:
            stored = (await conn.execute(
                select(offers.c.image_url).where(offers.c.id == ids[key]))).scalar_one()
        assert stored == IMAGE
    finally:
        await engine.dispose()
