"""Days of made-up history for the demo shop's offers, written straight into the database.

The rows are what the daemon would have stored had it watched the shop all along: the same
price functions (``catalog.price_at``), one check per ``every`` seconds per offer, through the
repository's ``insert_checks``. Browser tests, the web bench and screenshots start from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.db.repository import PendingCheck, insert_checks, sync_catalog
from pricewatch.demo.catalog import DemoProduct, in_stock_at, price_at
from pricewatch.models import Check, Offer, Outcome

BATCH = 5000


def demo_check(offer: Offer, product: DemoProduct, at: float, *, tick: float) -> Check:
    """The check the daemon would have made of ``offer`` at ``at`` (epoch seconds)."""
    return Check(offer.key, datetime.fromtimestamp(at, UTC), Outcome.OK,
                 price=price_at(product, at, tick=tick), currency=product.currency,
                 in_stock=in_stock_at(product, at, tick=tick), http_status=200,
                 duration_ms=12, extractor="demo")


async def generate(engine: AsyncEngine, offers: Sequence[tuple[Offer, DemoProduct]], *,
                   start: float, end: float, every: float, tick: float = 3600.0,
                   catalog: Sequence[Offer] | None = None) -> int:
    """Write one check per ``every`` seconds in ``[start, end)`` for each offer; returns the
    number of rows. ``tick`` is the demo prices' step (an hour moves them slowly). The
    catalogue is synced to ``catalog`` (default: these offers); offers outside it are
    marked inactive, as a config without them would."""
    wanted = [o for o, _ in offers] if catalog is None else list(catalog)
    async with engine.begin() as conn:
        ids = await sync_catalog(conn, wanted, datetime.now(UTC))
    written = 0
    batch: list[PendingCheck] = []
    at = start
    while at < end:
        for offer, product in offers:
            batch.append(PendingCheck(ids[offer.key], demo_check(offer, product, at, tick=tick)))
        if len(batch) >= BATCH:
            async with engine.begin() as conn:
                await insert_checks(conn, batch)
            written += len(batch)
            batch = []
        at += every
    if batch:
        async with engine.begin() as conn:
            await insert_checks(conn, batch)
        written += len(batch)
    return written
