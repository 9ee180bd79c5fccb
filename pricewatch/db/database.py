"""The database entry point: open (and migrate), sync the catalogue, read what a round resumes
from. Everything above the store layer starts here."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.config import Settings
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.ids import OfferIds
from pricewatch.db.repository import latest_checks, sync_catalog, validators
from pricewatch.db.writer import classify
from pricewatch.models import Offer, Previous

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_database(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[AsyncEngine]:
    """An engine on the configured database, migrated to the newest schema."""
    engine = create_engine(settings.database_url, echo=settings.model.database.echo)
    try:
        if upgrade:
            await migrate.upgrade(engine)
        yield engine
    finally:
        await engine.dispose()


async def sync(engine: AsyncEngine, offers: list[Offer]) -> OfferIds:
    try:
        async with engine.begin() as conn:
            return await sync_catalog(conn, offers, datetime.now(UTC))
    except SQLAlchemyError as exc:
        raise classify(exc) from exc


_IN_LIST_MAX = 10_000


async def load_previous(engine: AsyncEngine, ids: Mapping[str, int], *,
                        every_offer: bool = False) -> dict[str, Previous]:
    """Validators and the last good check per offer. A round needs them only for offers that
    have validators: only they send a conditional request, and only a 304 reuses the last
    check (an entry for every offer was ~100 bytes each, and its check ~400 more);
    ``every_offer`` reads them all (the daemon shows every offer's last price)."""
    async with engine.connect() as conn:
        rows = await validators(conn, every_offer=every_offer)
        if not rows:
            return {}
        # An IN list up to a bound; past it, all offers (asyncpg's bind-parameter limit).
        wanted = list(rows) if len(rows) <= _IN_LIST_MAX else None
        good = await latest_checks(conn, wanted, ok_only=True)
    out: dict[str, Previous] = {}
    for key, oid in ids.items():
        row = rows.get(oid)
        if row is None:
            continue
        title, etag, last_modified = row
        last = good.get(oid)
        if last is None and etag is None and last_modified is None:
            continue  # nothing to resume from (never checked): an empty entry is ~270 bytes
        if last is not None and title:
            last = replace(last, title=title)
        out[key] = Previous(etag=etag, last_modified=last_modified, check=last)
    return out
