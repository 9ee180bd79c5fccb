"""The database entry point: open (and migrate), sync the catalogue, read what a round resumes
from. Everything above the database layer starts here."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from dataclasses import replace
from datetime import UTC, datetime

from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.config import Settings
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine, probe_sqlite
from pricewatch.db.errors import first_line, mapped
from pricewatch.db.ids import OfferIds
from pricewatch.db.repository import latest_checks, removed_offer_ids, sync_catalog, validators
from pricewatch.db.repository import stored_slots as repository_stored_slots
from pricewatch.models import Offer, Previous
from pricewatch.redact import mask_url

log = logging.getLogger(__name__)


@asynccontextmanager
async def open_database(settings: Settings, *, upgrade: bool = True) -> AsyncIterator[AsyncEngine]:
    """An engine on the configured database, migrated to the newest schema (or, without
    ``upgrade``, known to answer); raises StorageError naming the database otherwise."""
    config = settings.model.database
    where = f"database {mask_url(settings.database_url)}"
    with mapped(where):
        probe_sqlite(settings.database_url)
    engine = create_engine(settings.database_url, echo=config.echo,
                           statement_timeout=config.statement_timeout)
    try:
        with mapped(where):
            if upgrade:
                await migrate.upgrade(engine)
            elif engine.dialect.name != "sqlite":  # SQLite was probed without creating a file
                await _select_one(engine)
        yield engine
    finally:
        with mapped("closing the database"):
            await engine.dispose()


async def _select_one(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


async def sync(engine: AsyncEngine, offers: list[Offer]) -> OfferIds:
    with mapped("cannot sync the catalogue"):
        async with engine.begin() as conn:
            return await sync_catalog(conn, offers, datetime.now(UTC))


_IN_LIST_MAX = 10_000


async def load_previous(engine: AsyncEngine, ids: Mapping[str, int], *,
                        every_offer: bool = False) -> dict[str, Previous]:
    """Validators and the last good check per offer. A round needs them only for offers that
    have validators: only they send a conditional request, and only a 304 reuses the last
    check (an entry and a check for every offer would grow with the catalogue);
    ``every_offer`` reads them all (the daemon shows every offer's last price)."""
    with mapped("cannot read the last checks"):
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


async def ping(engine: AsyncEngine, *, within: float = 2.0) -> str | None:
    """None if the database answers a trivial query within ``within`` seconds; else why not."""
    try:
        async with asyncio.timeout(within), engine.connect() as conn:
            await conn.execute(text("SELECT 1"))
    except TimeoutError:
        return f"unreachable: no answer within {within:g}s"
    except Exception as exc:  # whatever the driver raises, /readyz reports it, masked
        return f"unreachable: {type(exc).__name__}: {first_line(exc)}"
    return None


async def removed_offers(engine: AsyncEngine) -> set[int]:
    """The ids of the offers a sync marked removed (cluster mode: another replica's reload)."""
    with mapped("cannot read the catalogue"):
        async with engine.connect() as conn:
            return await removed_offer_ids(conn)


async def stored_slots(engine: AsyncEngine, wanted: list[tuple[int, int]]
                       ) -> set[tuple[int, int]]:
    """Which (offer id, cluster slot) pairs of ``wanted`` have a stored check."""
    if not wanted:
        return set()
    with mapped("cannot read the checks"):
        async with engine.connect() as conn:
            return await repository_stored_slots(conn, wanted)
