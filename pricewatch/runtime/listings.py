"""Watching listings: the daemon re-crawls every ``discover:`` product on its interval and
raises a ``new_product`` alert for each product page the listing has not shown before.

One task per listing, so a slow or broken shop delays only its own listing; each task
catches everything, logs once per failure and backs off. The supervisor re-reads the
settings every few seconds, so a reload adds, changes and removes listings without a
restart. The crawl shares the daemon's fetcher: robots.txt, the per-host delay and the
breaker are the checks' own, and a crawl never makes a shop busier than its checks may.
The first crawl of a listing is its baseline (no alerts: everything would be "new").
"""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import urlsplit

from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.alerts.message import Alert
from pricewatch.alerts.quiet import hold_until
from pricewatch.alerts.service import AlertService
from pricewatch.config import Settings
from pricewatch.db.alerts import insert_alert
from pricewatch.db.errors import mapped
from pricewatch.db.listings import last_crawl, record_seen, seen_urls
from pricewatch.discover import Crawler, Found, Limits
from pricewatch.fetch import Fetcher
from pricewatch.models import Listing

log = logging.getLogger(__name__)

RULE = "new_product"
RECONCILE_EVERY = 5.0  # seconds between looks at the (possibly reloaded) settings
RETRY_BASE = 60.0  # the first backoff after a failed crawl; doubles, at most the interval


def _now() -> datetime:
    return datetime.now(UTC)


class ListingWatcher:
    """``await ListingWatcher(...).run()`` watches ``settings().listings()`` until cancelled."""

    def __init__(self, settings: Callable[[], Settings], engine: AsyncEngine, fetcher: Fetcher,
                 alerts: AlertService, *, clock: Callable[[], datetime] = _now,
                 reconcile_every: float = RECONCILE_EVERY, retry_base: float = RETRY_BASE
                 ) -> None:
        self._settings = settings
        self._engine = engine
        self._fetcher = fetcher
        self._alerts = alerts
        self._clock = clock
        self._reconcile_every = reconcile_every
        self._retry_base = retry_base

    async def run(self) -> None:
        tasks: dict[str, tuple[Listing, asyncio.Task[None]]] = {}
        try:
            while True:
                try:
                    wanted = {item.product_id: item for item in self._settings().listings()}
                except Exception:  # the supervisor outlives anything
                    log.exception("listings: reading the settings failed")
                    wanted = {pid: listing for pid, (listing, _) in tasks.items()}
                for pid, (listing, task) in list(tasks.items()):
                    if wanted.get(pid) != listing or task.done():
                        task.cancel()
                        del tasks[pid]
                for pid, listing in wanted.items():
                    if pid not in tasks:
                        tasks[pid] = (listing, asyncio.create_task(
                            self._watch(listing), name=f"listing {pid}"))
                await asyncio.sleep(self._reconcile_every)
        finally:
            for _, task in tasks.values():
                task.cancel()
            await asyncio.gather(*(t for _, t in tasks.values()), return_exceptions=True)

    async def _watch(self, listing: Listing) -> None:
        failures = 0
        delay = await self._first_delay(listing)
        while True:
            if delay > 0:
                await asyncio.sleep(delay)
            try:
                await self.crawl_once(listing)
            except Exception as exc:
                failures += 1
                delay = min(listing.interval, self._retry_base * 2 ** min(failures - 1, 10))
                log.warning("listing %s: crawl failed (%s); next try in %.0fs",
                            listing.product_id, exc, delay)
            else:
                failures = 0
                delay = listing.interval

    async def _first_delay(self, listing: Listing) -> float:
        """Seconds until the listing is due: a restart does not re-crawl a fresh listing."""
        try:
            with mapped("cannot read the listing's last crawl"):
                async with self._engine.connect() as conn:
                    last = await last_crawl(conn, listing.product_id)
        except Exception as exc:
            log.warning("listing %s: %s; crawling now", listing.product_id, exc)
            return 0.0
        if last is None:
            return 0.0
        return max(0.0, listing.interval - (self._clock() - last).total_seconds())

    async def crawl_once(self, listing: Listing) -> list[Alert]:
        """Crawl ``listing`` once, store what it shows, and return the alerts stored for the
        product pages it had not shown before."""
        limits = Limits(depth=listing.depth, max_pages=listing.max_pages,
                        per_pattern=listing.per_pattern, same_site=listing.same_site,
                        sitemaps=listing.sitemaps,
                        match=re.compile(listing.match) if listing.match else None)
        result = await Crawler(self._fetcher, listing.fetch, limits).run(listing.url)
        if result.start_error is not None and not result.found:
            log.warning("listing %s: could not fetch %s: %s", listing.product_id, listing.url,
                        result.start_error)
            return []
        now = self._clock()
        settings = self._settings()
        stored: list[Alert] = []
        with mapped("cannot store the listing's products"):
            async with self._engine.begin() as conn:
                seen = await seen_urls(conn, listing.product_id)
                new = [f for f in result.found if f.url not in seen]
                again = [f.url for f in result.found if f.url in seen]
                await record_seen(conn, listing.product_id, [(f.url, f.title) for f in new],
                                  again, now)
                if seen and self._alerts.enabled:
                    held = hold_until(now, settings.model.alerts.quiet_hours)
                    for found in new:
                        alert = new_product_alert(listing, found, now)
                        stored.append(replace(alert, id=await insert_alert(conn, alert, held)))
        if stored:
            self._alerts.dispatcher.wake()
        log.info("listing %s: %d products, %d new%s", listing.product_id, len(result.found),
                 len(new), "" if seen else " (first crawl: the baseline, no alerts)")
        return stored


def new_product_alert(listing: Listing, found: Found, now: datetime) -> Alert:
    store = (urlsplit(found.url).hostname or "").removeprefix("www.")
    return Alert(rule=RULE, subject=listing.product_id, product_id=listing.product_id,
                 product_name=listing.name, store=store, url=found.url, observed_at=now,
                 reason=f"new product: {found.title or found.url}", new_price=found.price,
                 currency=found.currency, in_stock=found.in_stock)
