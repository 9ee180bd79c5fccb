"""`pricewatch run`: scheduled checks for months, unattended.

Start-up: migrate, sync the catalogue, plan every offer's slots from its last check, serve
/metrics. Running: each scheduled job is one check of one offer, written through the batching
writer. SIGHUP or an edit of the config file reloads it (an invalid file is rejected and the
running config stays). SIGTERM/SIGINT: stop scheduling, give running checks
``schedule.shutdown_timeout`` to finish, cancel and record the rest, flush, exit 0; a second
signal exits at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.alerts.feed import AlertFeed
from pricewatch.alerts.service import AlertService
from pricewatch.config import Settings, load
from pricewatch.db.database import load_previous, open_database, sync
from pricewatch.db.repository import PendingCheck, latest_checks
from pricewatch.db.writer import CheckWriter
from pricewatch.errors import ConfigError, StorageError
from pricewatch.fetch import Fetcher
from pricewatch.models import Check, Offer, Outcome, Previous, plain
from pricewatch.runtime.metrics import Metrics
from pricewatch.runtime.pipeline import CheckResult, check_offer, utcnow
from pricewatch.runtime.schedule import Due, Scheduler, plan
from pricewatch.runtime.web import OfferStatus, make_app, serve
from pricewatch.runtime.workers import make_extractor

log = logging.getLogger(__name__)

CONFIG_POLL = 2.0
ALERT_GRACE = 10.0  # at shutdown: time to judge the last checks and deliver due alerts
SUMMARY_EVERY = 60.0
HOUSEKEEPING_EVERY = 5.0


@dataclass
class _Totals:
    outcomes: Counter[str] = field(default_factory=Counter)

    def line(self) -> str:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(self.outcomes.items()))
        return f"{sum(self.outcomes.values())} checks ({parts or 'none'})"


class Daemon:
    """One pricewatch process. ``await Daemon(settings).run()`` returns the exit code."""

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None) -> None:
        self.settings = settings
        self.metrics = Metrics(registry or CollectorRegistry())
        self.port: int | None = None  # the bound /metrics port, once serving
        self._offers: dict[str, Offer] = {o.key: o for o in settings.offers()}
        self._ids: Mapping[str, int] = {}
        self._previous: dict[str, Previous] = {}
        self._last_checked: dict[str, datetime] = {}
        self._latest: dict[str, Check] = {}  # each offer's newest check, for the status page
        self._inflight: dict[str, asyncio.Task[None]] = {}
        self._stop = asyncio.Event()
        self._signals = 0
        self._totals = _Totals()
        self._window = _Totals()
        self._config_stamp = self._stamp()
        self._reload_lock = asyncio.Lock()
        self._engine: AsyncEngine | None = None
        self._writer: CheckWriter | None = None
        self._fetcher: Fetcher | None = None
        self._scheduler: Scheduler | None = None
        # Parsing off the event loop, on every core (workers start in run()).
        self._extractor = make_extractor(settings.model.workers)
        self._slots = asyncio.Semaphore(settings.model.http.concurrency)
        self._alerts: AlertService | None = None

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> int:
        started = time.monotonic()
        self._install_signal_handlers()
        async with open_database(self.settings) as engine:
            self._engine = engine
            await self._load_state(engine)
            alerts = AlertService(self.settings, engine, registry=self.metrics.registry,
                                  grace=ALERT_GRACE)
            self._alerts = alerts
            feed = AlertFeed(alerts, self.offer)
            writer = CheckWriter(engine, on_write=self.metrics.observe_write,
                                 on_flushed=feed.stored)
            self._writer = writer
            writer.start()
            async with alerts, self._extractor, Fetcher(self.settings.model.http,
                                                        observer=self.metrics) as fetcher:
                self._fetcher = fetcher
                runner = None
                server = self.settings.model.server
                if server.enabled:
                    app = make_app(self.metrics.registry, self.readiness, self.status)
                    runner, self.port = await serve(app, server.host, server.port)
                    log.info("serving /metrics on http://%s:%d", server.host, self.port)
                sched = self.settings.model.schedule
                self._scheduler = Scheduler(self._job, jitter=sched.jitter,
                                            misfire_grace_time=sched.misfire_grace_time,
                                            on_lag=self.metrics.scheduler_lag.observe,
                                            on_dropped=self._run_dropped)
                self._schedule(utcnow())
                self._scheduler.start()
                self.metrics.reload_success.set(time.time())
                log.info("pricewatch running: %d offers, database %s", len(self._offers),
                         self.settings.database_url)
                for warning in self.settings.capacity_warnings():
                    log.warning("%s", warning)
                background = [asyncio.create_task(self._watch_config(), name="config-watch"),
                              asyncio.create_task(self._housekeeping(), name="housekeeping")]
                judging = asyncio.create_task(feed.run(), name="alerts")
                await self._stop.wait()
                for task in background:
                    task.cancel()
                finished, cancelled = await self._drain()
                await writer.close(grace=10.0)
                # Judge what the last flush stored, then let the alert service deliver.
                feed.finish()
                await asyncio.wait_for(judging, timeout=ALERT_GRACE)
                if runner is not None:
                    await runner.cleanup()
        self._remove_signal_handlers()
        lost = writer.dropped
        log.info("shutdown after %.0fs: %s; at shutdown %d checks finished, %d cancelled; "
                 "%d rows written, %d lost", time.monotonic() - started, self._totals.line(),
                 finished, cancelled, writer.written, lost)
        return 0

    def _run_dropped(self, reason: str) -> None:
        self.metrics.runs_dropped.labels(reason).inc()

    def offer(self, key: str) -> Offer | None:
        """The configured offer with this key (a reload may have removed it)."""
        return self._offers.get(key)

    def stop(self) -> None:
        """Begin a graceful shutdown (what SIGTERM does)."""
        self._stop.set()

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._on_stop_signal, sig)
            loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)

    def _remove_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):
            for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                loop.remove_signal_handler(sig)

    def _on_stop_signal(self, sig: signal.Signals) -> None:
        self._signals += 1
        if self._signals > 1:
            log.warning("second %s: exiting at once", sig.name)
            os._exit(128 + sig.value)
        log.info("%s: finishing running checks (at most %.0fs), then exiting", sig.name,
                 self.settings.model.schedule.shutdown_timeout)
        self._stop.set()

    def _on_reload_signal(self) -> None:
        log.info("SIGHUP: reloading %s", self.settings.source)
        asyncio.get_running_loop().create_task(self.reload())

    async def _drain(self) -> tuple[int, int]:
        """Stop scheduling; wait for running checks within the bound, cancel the rest."""
        assert self._scheduler is not None
        self._scheduler.shutdown()
        running = list(self._inflight.values())
        if not running:
            return 0, 0
        timeout = self.settings.model.schedule.shutdown_timeout
        done, pending = await asyncio.wait(running, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        return len(done), len(pending)

    # -- state -------------------------------------------------------------------------------

    async def _load_state(self, engine: AsyncEngine) -> None:
        offers = list(self._offers.values())
        self._ids = await sync(engine, offers)
        # Every offer's last good check: the status page and the restored gauges show it.
        self._previous = await load_previous(engine, self._ids, every_offer=True)
        async with engine.connect() as conn:
            # All offers, filtered here: an IN list of every id breaks past 32,767 offers on
            # Postgres (asyncpg's bind-parameter limit).
            latest = await latest_checks(conn, None)
        by_id = {oid: key for key, oid in self._ids.items()}
        for oid, check in latest.items():
            key = by_id.get(oid)
            if key is not None:
                self._last_checked[key] = check.observed_at
                self._latest[key] = check
        self.metrics.configure(offers)
        # Restore the gauges from the database, so a restart does not blank the dashboard.
        for key, previous in self._previous.items():
            if previous.check is not None and key in self._offers:
                self.metrics.restore(self._offers[key], previous.check)

    def _schedule(self, now: datetime, only: set[str] | None = None) -> None:
        assert self._scheduler is not None
        # The key strings of self._offers: the scheduler then shares them instead of holding
        # a copy of each (Offer.key builds a new string on every access).
        dues = [Due(key, o.interval, self._last_checked.get(key), o.cron, o.timezone)
                for key, o in self._offers.items()]
        window = self.settings.model.schedule.catch_up_window
        for p in plan(dues, now, catch_up_window=window):
            if only is None or p.key in only:
                self._scheduler.put(p)

    # -- one check -----------------------------------------------------------------------------

    async def _job(self, key: str) -> None:
        offer = self._offers.get(key)
        if offer is None or self._stop.is_set():
            return
        if key in self._inflight:  # the catch-up run and a regular slot never overlap
            log.debug("check of %s still running; skipped", key)
            self._run_dropped("overlap")
            return
        task = asyncio.current_task()
        assert task is not None
        assert self._fetcher is not None
        self._inflight[key] = task
        started = utcnow()
        try:
            # A slot covers fetch and extraction: the fetcher's own limit frees its slot once
            # the body is read, so when parsing is slower than fetching (100,000 offers due
            # in one catch-up window), fetched pages queued for the parser without bound
            # (RSS passed 2 GB in two minutes).
            async with self._slots:
                self.metrics.jobs_running.inc()
                try:
                    result = await check_offer(offer, self._fetcher,
                                               previous=self._previous.get(key),
                                               extractor=self._extractor)
                finally:
                    self.metrics.jobs_running.dec()
        except asyncio.CancelledError:
            self._record(offer, CheckResult(Check(
                key, started, Outcome.CANCELLED,
                duration_ms=int((utcnow() - started).total_seconds() * 1000),
                error="cancelled by shutdown")))
            raise
        finally:
            self._inflight.pop(key, None)
        self._record(offer, result)

    def _record(self, offer: Offer, result: CheckResult) -> None:
        check = result.check
        assert self._writer is not None
        oid = self._ids.get(offer.key)
        if oid is not None:
            self._writer.add(PendingCheck(oid, check, result.etag, result.last_modified))
        self._last_checked[offer.key] = check.observed_at
        self._latest[offer.key] = check
        if check.outcome is Outcome.OK:
            self._previous[offer.key] = Previous(result.etag, result.last_modified, check)
        self.metrics.observe_check(offer, check)
        self._totals.outcomes[check.outcome.value] += 1
        self._window.outcomes[check.outcome.value] += 1
        log.debug("checked %s: %s %s %s", offer.key, check.outcome.value,
                  check.price if check.price is not None else "-", check.error or "",
                  extra={"offer": offer.key, "outcome": check.outcome.value,
                         "price": None if check.price is None else str(check.price),
                         "currency": check.currency, "duration_ms": check.duration_ms})

    # -- reload --------------------------------------------------------------------------------

    def _stamp(self) -> tuple[float, int] | None:
        source = self.settings.source
        if source is None:
            return None
        try:
            st = Path(source).stat()
        except OSError:
            return None
        return st.st_mtime, st.st_size

    async def _watch_config(self) -> None:
        while True:
            await asyncio.sleep(CONFIG_POLL)
            stamp = self._stamp()
            if stamp is not None and stamp != self._config_stamp:
                log.info("config file changed: reloading")
                await self.reload()

    async def reload(self) -> bool:
        """Re-read the config; apply it if valid. Returns whether it was applied."""
        async with self._reload_lock:
            self._config_stamp = self._stamp()
            source = self.settings.source
            if source is None:
                return False
            try:
                new = load(source)
            except ConfigError as exc:
                self.metrics.reload_failures.inc()
                log.error("config reload rejected; still running the previous config:\n%s", exc)
                return False
            try:
                return await self._apply(new)
            except StorageError as exc:
                self.metrics.reload_failures.inc()
                log.error("config reload failed (database): %s", exc)
                return False

    async def _apply(self, new: Settings) -> bool:
        assert self._engine is not None
        assert self._scheduler is not None
        old = self.settings
        for name in ("database", "server"):
            if getattr(old.model, name) != getattr(new.model, name):
                log.warning("changed `%s` settings take effect at the next restart", name)
        if old.model.http != new.model.http:
            log.warning("changed `http` settings apply to requests now; the global limits "
                        "(concurrency, max_bytes, retries) at the next restart")
        wanted = {o.key: o for o in new.offers()}
        ids = await sync(self._engine, list(wanted.values()))
        removed = set(self._offers) - set(wanted)
        added = set(wanted) - set(self._offers)
        changed = {k for k in set(wanted) & set(self._offers) if wanted[k] != self._offers[k]}
        resched = {k for k in changed if (wanted[k].interval, wanted[k].cron, wanted[k].timezone)
                   != (self._offers[k].interval, self._offers[k].cron, self._offers[k].timezone)}
        for key in removed:
            self._scheduler.remove(key)
        self.settings = new
        self._offers = wanted
        self._ids = ids
        self.metrics.configure(list(wanted.values()))
        self._schedule(utcnow(), only=added | resched)
        self.metrics.reload_success.set(time.time())
        log.info("config reloaded: %d offers (%d added, %d removed, %d changed)", len(wanted),
                 len(added), len(removed), len(changed))
        return True

    def status(self) -> list[OfferStatus]:
        """Every configured offer's last price and last check, for the status page."""
        rows = []
        for key, offer in self._offers.items():
            last = self._latest.get(key)
            good = self._previous.get(key)
            priced = good.check if good is not None else None
            rows.append(OfferStatus(
                key=key, product=offer.product_name, store=offer.store, url=offer.url,
                price=None if priced is None or priced.price is None
                else str(plain(priced.price)),
                currency=None if priced is None else priced.currency,
                in_stock=None if priced is None else priced.in_stock,
                priced_at=None if priced is None else priced.observed_at,
                checked_at=None if last is None else last.observed_at,
                outcome=None if last is None else last.outcome.value,
                error=None if last is None else last.error,
                next_check=self._scheduler.next_run(key) if self._scheduler else None,
            ))
        return rows

    # -- health --------------------------------------------------------------------------------

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        parts: dict[str, str] = {}
        parts["scheduler"] = "ok" if self._scheduler and self._scheduler.running else "stopped"
        parts["database"] = await self._ping()
        writer = self._writer
        self._refresh_db_metrics()
        if writer is not None and not writer.available:
            parts["database"] = f"writes failing, {writer.pending} checks buffered: " \
                                    f"{writer.last_error}"
        return all(v == "ok" for v in parts.values()), parts

    async def _ping(self) -> str:
        if self._engine is None:
            return "not started"
        try:
            async with asyncio.timeout(2.0), self._engine.connect() as conn:
                await conn.execute(text("SELECT 1"))
        except Exception as exc:
            return f"unreachable: {type(exc).__name__}: {str(exc).splitlines()[0][:200]}"
        return "ok"

    def _refresh_db_metrics(self) -> None:
        writer = self._writer
        if writer is not None:
            self.metrics.db_buffered.set(writer.pending)
            self.metrics.db_dropped.set(writer.dropped)
            self.metrics.db_up.set(1 if writer.available else 0)

    async def _housekeeping(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(HOUSEKEEPING_EVERY)
            self._refresh_db_metrics()
            ticks += 1
            if ticks * HOUSEKEEPING_EVERY >= SUMMARY_EVERY:
                ticks = 0
                if self._window.outcomes:
                    log.info("last %.0fs: %s; %d checks buffered", SUMMARY_EVERY,
                             self._window.line(), self._writer.pending if self._writer else 0)
                self._window = _Totals()
