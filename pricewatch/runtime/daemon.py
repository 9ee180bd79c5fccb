"""`pricewatch run`: scheduled checks for months, unattended.

Start-up, in this order: take the database's daemon lock (one daemon per database), listen on
the server port, migrate, sync the catalogue, plan every offer's slots from its last check.
Running: each slot starts one check of one offer as the daemon's own task; the check waits for
its host's lane, then a global slot (``lanes``), and is recorded through the one recorder.
SIGHUP or an edit of the config file reloads it (an invalid, empty or product-less file is
rejected and the running config stays). SIGTERM/SIGINT: stop scheduling, give running checks
``schedule.shutdown_timeout`` to finish, cancel and record the rest, flush, exit 0; a second
signal exits at once. ``handle_signals=False`` leaves signals to an embedding program (and
tests), which calls ``stop()``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
import time
from collections.abc import Mapping
from datetime import datetime
from urllib.parse import urlsplit

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.config import Settings
from pricewatch.db import migrate
from pricewatch.db.database import load_previous, open_database, ping, sync
from pricewatch.db.lock import DaemonLock, daemon_lock
from pricewatch.db.repository import latest_checks
from pricewatch.models import Offer
from pricewatch.redact import mask_url
from pricewatch.runtime.lanes import Lanes
from pricewatch.runtime.listings import ListingWatcher
from pricewatch.runtime.metrics import Metrics
from pricewatch.runtime.pipeline import check_offer, utcnow
from pricewatch.runtime.recorder import (
    OfferState,
    Recording,
    needs_browser,
    recording,
    require_browser,
)
from pricewatch.runtime.reload import Apply, Reloader, warn_restart_only
from pricewatch.runtime.schedule import Due, Scheduler, plan
from pricewatch.runtime.web import OfferStatus, make_app, offer_status, serve

log = logging.getLogger(__name__)

SUMMARY_EVERY = 60.0
HOUSEKEEPING_EVERY = 5.0
STUCK_WRITES = 30.0  # /readyz fails when a check has waited this long to be written


class Daemon:
    """One pricewatch process. ``await Daemon(settings).run()`` returns the exit code."""

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None,
                 handle_signals: bool = True) -> None:
        self.settings = settings
        self.metrics = Metrics(registry or CollectorRegistry())
        self.port: int | None = None  # the bound server port, once serving
        self.offers: dict[str, Offer] = {o.key: o for o in settings.offers()}  # by key
        self.reloader = Reloader(settings.source, self.metrics, target=self._apply_target,
                                 offers=lambda: self.offers)
        self._handle_signals = handle_signals
        self._stop = asyncio.Event()
        self._signals = 0
        self._running: _Running | None = None  # the started parts, while run() runs

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(self) -> int:
        if self._handle_signals:
            self._install_signal_handlers()
        try:
            return await self._run()
        finally:
            if self._handle_signals:
                self._remove_signal_handlers()

    async def _run(self) -> int:
        started = time.monotonic()
        require_browser(self.settings)  # before the database: a refusal changes nothing
        # The lock comes before anything that changes the database or the shops see.
        async with open_database(self.settings, upgrade=False) as engine, \
                daemon_lock(engine) as lock:
            runner = await self._serve(engine)
            try:
                await migrate.upgrade(engine)
                ids = await sync(engine, list(self.offers.values()))
                state = await self._load_state(engine, ids)
                async with recording(self.settings, engine, ids, offer_of=self.offer,
                                     metrics=self.metrics, state=state) as parts:
                    running = _Running(self, engine, parts, state, lock)
                    self._running = running
                    running.start()
                    log.info("pricewatch running: %d offers, database %s", len(self.offers),
                             mask_url(self.settings.database_url))
                    for warning in self.settings.capacity_warnings():
                        log.warning("%s", warning)
                    await self._stop.wait()
                    finished, cancelled = await running.stop()
            finally:
                self._running = None
                if runner is not None:
                    await runner.cleanup()
        running.refresh_db_metrics()  # the final written/lost counts, for embedders too
        summary = parts.recorder.summary
        log.info("shutdown after %.0fs: %s; at shutdown %d checks finished, %d cancelled; "
                 "%d skipped (host backlog); %d rows written, %d lost",
                 time.monotonic() - started, summary.counts(), finished, cancelled,
                 running.shed, parts.writer.written, parts.writer.dropped)
        return 0

    async def _serve(self, engine: AsyncEngine) -> web.AppRunner | None:
        server = self.settings.model.server
        if not server.enabled:
            return None
        app = make_app(self.metrics.registry, self.readiness, self.status, engine=engine,
                       reload_error=self.reloader.problem, auth=server.auth)
        runner, self.port = await serve(app, server.host, server.port)
        log.info("serving /metrics on http://%s:%d", server.host, self.port)
        return runner

    def offer(self, key: str) -> Offer | None:
        """The configured offer with this key (a reload may have removed it)."""
        return self.offers.get(key)

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

    async def _load_state(self, engine: AsyncEngine, ids: Mapping[str, int]) -> OfferState:
        offers = list(self.offers.values())
        # Every offer's last good check: the status page and the restored gauges show it.
        state = OfferState(previous=await load_previous(engine, ids, every_offer=True))
        async with engine.connect() as conn:
            # All offers, filtered here: an IN list of every id breaks past 32,767 offers on
            # Postgres (asyncpg's bind-parameter limit).
            latest = await latest_checks(conn, None)
        by_id = {oid: key for key, oid in ids.items()}
        for oid, check in latest.items():
            key = by_id.get(oid)
            if key is not None:
                state.latest[key] = check
        self.metrics.configure(offers)
        # Restore the gauges from the database, so a restart does not blank the dashboard.
        for key, previous in state.previous.items():
            if previous.check is not None and key in self.offers:
                self.metrics.restore(self.offers[key], previous.check)
        return state

    # -- reload --------------------------------------------------------------------------------

    async def watch_config(self) -> None:
        """Reload when the file changes; survives anything a reload can raise."""
        await self.reloader.watch()

    async def reload(self) -> bool:
        """Re-read the config; apply it if valid. Returns whether it was applied."""
        return await self.reloader.reload()

    def _apply_target(self) -> Apply | None:
        running = self._running
        return None if running is None else running.apply

    # -- views -----------------------------------------------------------------------------

    def status(self) -> list[OfferStatus]:
        """Every configured offer's last price and last check, for the status page."""
        running = self._running
        if running is None:
            return []
        return running.status()

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        running = self._running
        if running is None:
            return False, {"daemon": "starting or stopping"}
        return await running.readiness()


class _Running:
    """The daemon while it runs: every part is built and present, none is None."""

    def __init__(self, daemon: Daemon, engine: AsyncEngine, parts: Recording,
                 state: OfferState, lock: DaemonLock) -> None:
        self.daemon = daemon
        self.engine = engine
        self.lock = lock
        self.lock_problem: str | None = None
        self.parts = parts
        self.state = state
        self.metrics = daemon.metrics
        sched = daemon.settings.model.schedule
        self.lanes = Lanes(daemon.settings.model.http.concurrency, on_shed=self._on_shed)
        self.scheduler = Scheduler(self._fire, jitter=sched.jitter,
                                   misfire_grace_time=sched.misfire_grace_time,
                                   on_lag=self.metrics.scheduler_lag.observe,
                                   on_dropped=self._dropped)
        self.inflight: dict[str, asyncio.Task[None]] = {}
        self.admitted: set[str] = set()  # in flight and past their lane: fetching or parsing
        self.shed = 0
        self.stopping = False
        self.background: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._schedule(utcnow())
        self.scheduler.start()
        self.metrics.reload_success.set(time.time())
        self.background = [
            asyncio.create_task(self.daemon.watch_config(), name="config-watch"),
            asyncio.create_task(self._housekeeping(), name="housekeeping"),
            asyncio.create_task(ListingWatcher(
                lambda: self.daemon.settings, self.engine, self.parts.fetcher,
                self.parts.alerts).run(), name="listings")]

    async def stop(self) -> tuple[int, int]:
        """Stop scheduling; let admitted checks finish within ``shutdown_timeout``; cancel the
        rest (each recorded as ``cancelled``). Returns (finished, cancelled)."""
        self.stopping = True
        self.scheduler.shutdown()
        for task in self.background:
            task.cancel()
        await asyncio.gather(*self.background, return_exceptions=True)
        # Checks still waiting for their host have not started: they never will now.
        waiting = [t for k, t in self.inflight.items() if k not in self.admitted]
        running = [t for k, t in self.inflight.items() if k in self.admitted]
        for task in waiting:
            task.cancel()
        finished: set[asyncio.Task[None]] = set()
        pending: set[asyncio.Task[None]] = set()
        if running:
            timeout = self.daemon.settings.model.schedule.shutdown_timeout
            finished, pending = await asyncio.wait(running, timeout=timeout)
        for task in pending:
            task.cancel()
        await asyncio.gather(*waiting, *pending, return_exceptions=True)
        return len(finished), len(waiting) + len(pending)

    # -- one check -------------------------------------------------------------------------

    def _schedule(self, now: datetime, only: set[str] | None = None) -> None:
        state = self.state.latest
        dues = [Due(o.key, o.interval, state[o.key].observed_at if o.key in state else None,
                    o.cron, o.timezone) for o in self.daemon.offers.values()]
        window = self.daemon.settings.model.schedule.catch_up_window
        for p in plan(dues, now, catch_up_window=window):
            if only is None or p.key in only:
                self.scheduler.put(p)

    async def _fire(self, key: str) -> None:
        # The scheduler's job only starts the check as the daemon's own task: APScheduler
        # cancels its running jobs at shutdown, and the grace period is the daemon's to give.
        offer = self.daemon.offer(key)
        if offer is None or self.stopping:
            return
        if key in self.inflight:  # the catch-up run and a regular slot never overlap
            log.debug("check of %s still running; skipped", key)
            self._dropped("overlap")
            return
        oid = self.parts.recorder.ids.get(key)
        self.inflight[key] = asyncio.create_task(self._check(offer, oid), name=f"check {key}")

    async def _check(self, offer: Offer, oid: int | None) -> None:
        key = offer.key
        host = (urlsplit(offer.url).hostname or "").lower()
        sched = self.daemon.settings.model.schedule
        started = utcnow()
        recorder = self.parts.recorder
        try:
            # Host first, then a global slot (see lanes). The global slot covers fetch and
            # extraction: the fetcher's own limit frees its slot once the body is read, so
            # without it fetched pages could queue for the parser without bound.
            wait = min(offer.interval, sched.misfire_grace_time)
            if not await self.lanes.acquire(host, width=offer.fetch.per_host_concurrency,
                                            wait=wait):
                return
            self.admitted.add(key)
            self.metrics.jobs_running.inc()
            try:
                result = await check_offer(offer, self.parts.fetcher,
                                           previous=self.state.previous.get(key),
                                           extractor=self.parts.extractor)
            finally:
                self.metrics.jobs_running.dec()
                self.lanes.release(host)
        except asyncio.CancelledError:
            reason = ("cancelled by shutdown" if key in self.admitted
                      else "cancelled by shutdown before it started")
            recorder.cancelled(offer, started, offer_id=oid, reason=reason)
            raise
        finally:
            self.admitted.discard(key)
            self.inflight.pop(key, None)
        recorder.record(offer, result, offer_id=oid)

    def _on_shed(self, host: str) -> None:
        self.shed += 1
        self.metrics.checks_skipped.labels(host, "host_backlog").inc()

    def _dropped(self, reason: str) -> None:
        self.metrics.runs_dropped.labels(reason).inc()

    # -- reload ----------------------------------------------------------------------------

    async def apply(self, new: Settings) -> None:
        """Apply a valid config, all or nothing: alert channels are built first (a bad one
        raises before anything changed), the catalogue synced, then the schedule changed.
        Checks in flight on removed offers finish and are recorded under their old id."""
        daemon = self.daemon
        old = daemon.settings
        warn_restart_only(old, new, ("database", "server"))
        wanted = {o.key: o for o in new.offers()}
        alerts = self.parts.alerts
        alerts.reconfigure(new)
        try:
            ids = await sync(self.engine, list(wanted.values()))
        except BaseException:
            with contextlib.suppress(Exception):
                alerts.reconfigure(old)
            raise
        current = daemon.offers
        removed = set(current) - set(wanted)
        added = set(wanted) - set(current)
        changed = {k for k in set(wanted) & set(current) if wanted[k] != current[k]}
        resched = {k for k in changed if (wanted[k].interval, wanted[k].cron, wanted[k].timezone)
                   != (current[k].interval, current[k].cron, current[k].timezone)}
        for key in removed:
            self.scheduler.remove(key)
        daemon.settings = new
        daemon.offers = wanted
        self.parts.recorder.ids = ids
        self.metrics.configure(list(wanted.values()))
        self._schedule(utcnow(), only=added | resched)
        browser = self.parts.fetcher.browser
        if needs_browser(new):
            await browser.reconfigure(new.model.browser, new.screenshots)
        else:
            await browser.release()  # closed once its open pages are done
        log.info("config reloaded: %d offers (%d added, %d removed, %d changed)", len(wanted),
                 len(added), len(removed), len(changed))

    # -- views and health ------------------------------------------------------------------

    def status(self) -> list[OfferStatus]:
        return [offer_status(offer, self.state.latest.get(key), self.state.previous.get(key),
                             self.scheduler.next_run(key))
                for key, offer in self.daemon.offers.items()]

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        parts: dict[str, str] = {}
        parts["scheduler"] = "ok" if self.scheduler.running else "stopped"
        parts["database"] = await ping(self.engine) or "ok"
        if self.lock_problem is not None:
            parts["lock"] = self.lock_problem
        writer = self.parts.writer
        self.refresh_db_metrics()
        if not writer.available:
            parts["database"] = f"writes failing, {writer.pending} checks buffered: " \
                                f"{writer.last_error}"
        waited = writer.oldest_pending_age()
        parts["writes"] = "ok" if waited <= STUCK_WRITES else \
            f"stuck: the oldest of {writer.pending} unwritten checks waited {waited:.0f}s"
        return all(v == "ok" for v in parts.values()), parts

    def refresh_db_metrics(self) -> None:
        writer = self.parts.writer
        self.metrics.db_buffered.set(writer.pending)
        self.metrics.db_dropped.set(writer.dropped)
        self.metrics.db_up.set(1 if writer.available else 0)

    async def _housekeeping(self) -> None:
        ticks = 0
        while True:
            await asyncio.sleep(HOUSEKEEPING_EVERY)
            try:
                self.refresh_db_metrics()
                # A PostgreSQL session (and its advisory lock) does not survive an outage.
                self.lock_problem = await self.lock.verify()
                ticks += 1
                if ticks * HOUSEKEEPING_EVERY >= SUMMARY_EVERY:
                    ticks = 0
                    window = self.parts.recorder.take_window()
                    if window.total:
                        log.info("last %.0fs: %s; %d checks buffered", SUMMARY_EVERY,
                                 window.counts(), self.parts.writer.pending)
            except Exception:
                log.exception("housekeeping failed; retrying in %.0fs", HOUSEKEEPING_EVERY)
