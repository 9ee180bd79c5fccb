"""The product pages watched listings have shown (``listing_items``), for new-product alerts."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncConnection

from pricewatch.db.tables import listing_items

_CHUNK = 500  # URLs per IN list


async def seen_urls(conn: AsyncConnection, listing: str) -> set[str]:
    """Every URL ``listing`` has shown before (empty: it was never crawled)."""
    rows = await conn.execute(select(listing_items.c.url).where(
        listing_items.c.listing == listing))
    return {url for (url,) in rows}


async def record_seen(conn: AsyncConnection, listing: str, new: Sequence[tuple[str, str | None]],
                      again: Sequence[str], now: datetime) -> None:
    """Store the ``new`` (url, title) pairs and mark the URLs seen ``again``."""
    if new:
        await conn.execute(insert(listing_items), [
            {"listing": listing, "url": url, "title": title, "first_seen_at": now,
             "last_seen_at": now} for url, title in new])
    for start in range(0, len(again), _CHUNK):
        await conn.execute(update(listing_items).where(
            listing_items.c.listing == listing,
            listing_items.c.url.in_(again[start:start + _CHUNK])).values(last_seen_at=now))


async def last_crawl(conn: AsyncConnection, listing: str) -> datetime | None:
    """When ``listing`` was last crawled with products found (None: never); max() keeps
    the column's type, so the value comes back timezone-aware like every UTCDateTime."""
    value: datetime | None = (await conn.execute(select(func.max(
        listing_items.c.last_seen_at)).where(listing_items.c.listing == listing))).scalar()
    return value
