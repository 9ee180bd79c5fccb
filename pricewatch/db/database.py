"""Wiring: the engine, the catalogue sync, the fetcher and the writer for one process."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.alerts import Alert
from pricewatch.alerts.service import AlertService
from pricewatch.config import Settings
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine
from pricewatch.db.repository import OfferIds, sync_catalog
from pricewatch.db.writer import CheckWriter, classify
from pricewatch.fetch import Fetcher
from pricewatch.models import Check, Offer
from pricewatch.runtime.pipeline import CheckResult, utcnow
from pricewatch.runtime.rounds import RoundSummary, load_previous, run_round

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
            return await sync_catalog(conn, offers, utcnow())
    except SQLAlchemyError as exc:
        raise classify(exc) from exc


@dataclass
class OnceResult:
    summary: RoundSummary
    written: int
    alerts: list[Alert] = field(default_factory=list)


async def run_once(
    settings: Settings,
    *,
    on_check: Callable[[Offer, CheckResult], None] | None = None,
    keep: int | None = None,
) -> OnceResult:
    """`pricewatch once`: check every active offer one time and store every check.
    ``keep`` bounds how many checks the returned summary holds (None: all)."""
    offers = settings.offers()
    async with open_database(settings) as engine:
        ids = await sync(engine, offers)
        previous = await load_previous(engine, ids)
        writer = CheckWriter(engine)
        judged: list[tuple[Offer, Check]] = []

        async with AlertService(settings, engine) as alerts:

            def collect(offer: Offer, result: CheckResult) -> None:
                if alerts.wants(offer):
                    judged.append((offer, result.check))
                if on_check is not None:
                    on_check(offer, result)

            async with Fetcher(settings.model.http) as fetcher:
                summary = await run_round(offers, fetcher=fetcher, writer=writer, ids=ids,
                                          previous=previous, on_check=collect, keep=keep)
            await writer.close()
            raised = await alerts.process_many(judged)  # after the write: history is complete
    log.info("round done: %s", summary.line())
    return OnceResult(summary, writer.written, raised)
