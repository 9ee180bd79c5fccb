"""One cluster replica (`pricewatch run --cluster`): any number of them share one PostgreSQL.

Start-up: hold the daemon lock *shared* (replicas run together; a single-process daemon on the
same database is refused, as it refuses them), serve HTTP, then, one replica at a time under
the start-up lock, migrate, install Procrastinate's schema if missing and sync the catalogue.
Running: the Procrastinate worker runs planning and check jobs (``engine``); each check is
fetched, extracted and stored through the same recorder and batching writer as the daemon's,
and its job ends only once its row is stored, so a replica killed earlier leaves a job that
another replica retries. Alerts are judged by whichever replica stored the check (one at a
time per offer and product) and delivered by the one replica holding the delivery lock.
SIGHUP or an edit of the file reloads the config as the daemon does (``runtime.reload``): an
invalid one is rejected and the running config stays; a valid one syncs the catalogue under the
start-up lock, and this replica plans with it from its next planning run. Replicas disagree
until each has reloaded; a slice skips an offer that its replica's config lacks, or that the
catalogue marks removed (read at most ``CATALOGUE_FRESH`` before the check), so a removed
offer's check starts no later than that after its removal was synced, on any replica.
SIGTERM/SIGINT: stop taking jobs, give running checks ``schedule.shutdown_timeout``, exit 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from collections.abc import Mapping, Sequence

from aiohttp import web
from prometheus_client import CollectorRegistry
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.cluster import engine as cluster_engine
from pricewatch.cluster.slots import Slot, host_of, window
from pricewatch.config import Settings
from pricewatch.db import migrate
from pricewatch.db.database import (
    load_previous,
    open_database,
    ping,
    removed_offers,
    stored_slots,
    sync,
)
from pricewatch.db.lock import DELIVERY_KEY, DaemonLock, SoleLock, daemon_lock, startup_lock
from pricewatch.errors import HandedOver, StorageError
from pricewatch.models import Offer
from pricewatch.redact import mask_url
from pricewatch.runtime.metrics import Metrics
from pricewatch.runtime.pipeline import check_offer, utcnow
from pricewatch.runtime.recorder import OfferState, Recording, needs_browser, recording
from pricewatch.runtime.reload import Apply, Reloader, warn_restart_only
from pricewatch.runtime.web import OfferStatus, make_app, offer_status, serve

log = logging.getLogger(__name__)

DELIVERY_POLL = 2.0  # how soon the delivering replica sees an alert another one stored
CATALOGUE_FRESH = 1.0  # how old the replica's view of the removed offers may be at a check


class Replica:
    """``await Replica(settings).run()`` returns the exit code; ``stop()`` ends it."""

    def __init__(self, settings: Settings, *, registry: CollectorRegistry | None = None,
                 handle_signals: bool = True) -> None:
        self.settings = settings
        self.metrics = Metrics(registry or CollectorRegistry())
        self.offers: dict[str, Offer] = {o.key: o for o in settings.offers()}
        self.port: int | None = None
        self._handle_signals = handle_signals
        self._stop = asyncio.Event()
        self._parts: _Parts | None = None
        self._reloads: set[asyncio.Task[bool]] = set()
        self.reloader = Reloader(settings.source, self.metrics, target=self._apply_target,
                                 offers=lambda: self.offers)

    def offer(self, key: str) -> Offer | None:
        """The configured offer with this key (a reload swaps the offers, and may remove it)."""
        return self.offers.get(key)

    def stop(self) -> None:
        self._stop.set()

    async def run(self) -> int:
        # Procrastinate logs every job's start and end at INFO: thousands of lines a minute.
        engine_log = logging.getLogger("procrastinate")
        engine_log.setLevel(max(engine_log.getEffectiveLevel(), logging.WARNING))
        loop = asyncio.get_running_loop()
        if self._handle_signals:
            for sig in (signal.SIGTERM, signal.SIGINT):
                loop.add_signal_handler(sig, self._stop.set)
            loop.add_signal_handler(signal.SIGHUP, self._on_reload_signal)
        try:
            return await self._run()
        finally:
            if self._handle_signals:
                for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
                    loop.remove_signal_handler(sig)

    async def _run(self) -> int:
        started = time.monotonic()
        settings = self.settings
        cluster = settings.model.cluster
        async with open_database(settings, upgrade=False) as engine, \
                daemon_lock(engine, shared=True) as lock:
            runner = await self._serve(engine)
            try:
                app = cluster_engine.build(settings.database_url, cluster, self,
                                           pool_size=settings.model.http.concurrency + 4)
                async with app.open_async():
                    ids = await self._start_up(engine, app)
                    state = OfferState(previous=await load_previous(engine, ids,
                                                                    every_offer=True))
                    self.metrics.configure(list(self.offers.values()))
                    async with recording(settings, engine, ids, offer_of=self.offer,
                                         metrics=self.metrics, state=state,
                                         delivery=(SoleLock(engine, DELIVERY_KEY),
                                                   DELIVERY_POLL)) as parts:
                        self._parts = _Parts(engine, parts, state, ids, lock)
                        self._parts.job_slots = self._job_slots()
                        worker = asyncio.create_task(cluster_engine.run_worker(
                            app, cluster, concurrency=self._parts.job_slots,
                            shutdown_timeout=settings.model.schedule.shutdown_timeout),
                            name="cluster-worker")
                        self._parts.worker = worker
                        watch = asyncio.create_task(self.reloader.watch(), name="config-watch")
                        self.metrics.reload_success.set(time.time())
                        log.info("pricewatch cluster replica running: %d offers, database %s",
                                 len(self.offers), mask_url(settings.database_url))
                        stop = asyncio.create_task(self._stop.wait())
                        await asyncio.wait({worker, stop}, return_when=asyncio.FIRST_COMPLETED)
                        stop.cancel()
                        watch.cancel()
                        worker.cancel()  # Procrastinate's graceful stop
                        with contextlib.suppress(asyncio.CancelledError):
                            await worker
            finally:
                self._parts = None
                if runner is not None:
                    await runner.cleanup()
        log.info("shutdown after %.0fs: %s; %d rows written, %d lost",
                 time.monotonic() - started, parts.recorder.summary.counts(),
                 parts.writer.written, parts.writer.dropped)
        return 0

    async def _start_up(self, engine: AsyncEngine, app: object) -> Mapping[str, int]:
        """Migrations, the engine's schema and the catalogue, one replica at a time."""
        async with startup_lock(engine):
            before = await migrate.current(engine)
            await migrate.upgrade(engine)
            if before != migrate.HEAD:
                log.info("database migrated from %s to %s", before or "empty", migrate.HEAD)
            async with engine.connect() as conn:
                missing = (await conn.execute(text(
                    "SELECT to_regclass('procrastinate_jobs') IS NULL"))).scalar_one()
                known = (await conn.execute(text("SELECT count(*) FROM offers"))).scalar_one()
            if missing:
                await cluster_engine.install_schema(app)  # type: ignore[arg-type]
                log.info("job engine schema installed")
            ids = await sync(engine, list(self.offers.values()))
            log.info("catalogue synced: %d offers, %d new", len(ids), len(ids) - int(known))
        return ids

    async def _serve(self, engine: AsyncEngine) -> web.AppRunner | None:
        server = self.settings.model.server
        if not server.enabled:
            return None
        app = make_app(self.metrics.registry, self.readiness, self.status, engine=engine,
                       reload_error=self.reloader.problem, auth=server.auth)
        runner, self.port = await serve(app, server.host, server.port)
        log.info("serving /metrics on http://%s:%d", server.host, self.port)
        return runner

    # -- reload ----------------------------------------------------------------------------

    def _on_reload_signal(self) -> None:
        log.info("SIGHUP: reloading %s", self.settings.source)
        task = asyncio.get_running_loop().create_task(self.reloader.reload())
        self._reloads.add(task)
        task.add_done_callback(self._reloads.discard)

    def _apply_target(self) -> Apply | None:
        parts = self._parts
        if parts is None:
            return None
        return lambda new: self._apply(parts, new)

    async def _apply(self, parts: _Parts, new: Settings) -> None:
        """Apply a valid config, all or nothing: alert channels first (a bad one raises before
        anything changed), then the catalogue, synced under the start-up lock as at start-up,
        then this replica's offers, which its next planning run and every slice from now on
        use. A slice already running checks a removed offer no more (its next check looks)."""
        old = self.settings
        warn_restart_only(old, new, ("database", "server", "cluster"))
        wanted = {o.key: o for o in new.offers()}
        alerts = parts.recording.alerts
        alerts.reconfigure(new)
        try:
            async with startup_lock(parts.engine):
                ids = await sync(parts.engine, list(wanted.values()))
        except BaseException:
            with contextlib.suppress(Exception):
                alerts.reconfigure(old)
            raise
        current = self.offers
        removed = set(current) - set(wanted)
        added = set(wanted) - set(current)
        changed = {k for k in set(wanted) & set(current) if wanted[k] != current[k]}
        parts.removed |= {parts.ids[k] for k in removed if k in parts.ids}
        parts.removed -= set(ids.values())
        self.settings = new
        self.offers = wanted
        parts.ids = ids
        parts.recording.recorder.ids = ids
        self.metrics.configure(list(wanted.values()))
        browser = parts.recording.fetcher.browser
        if needs_browser(new):
            await browser.reconfigure(new.model.browser, new.screenshots)
        else:
            await browser.release()  # closed once its open pages are done
        if self._job_slots() > parts.job_slots:
            log.warning("the new config has more host lanes than this replica runs slices at "
                        "once (%d); restart the replicas to run them all in time",
                        parts.job_slots)
        log.info("config reloaded: %d offers (%d added, %d removed, %d changed); planned from "
                 "the next window", len(wanted), len(added), len(removed), len(changed))

    async def _removed(self, parts: _Parts) -> set[int]:
        """The ids of offers the catalogue marks removed, at most ``CATALOGUE_FRESH`` old: the
        removal another replica synced stops this one's checks, whatever its own config says.
        One query per replica and CATALOGUE_FRESH at most, shared by every slice."""
        async with parts.catalogue_lock:
            if time.monotonic() - parts.removed_at >= CATALOGUE_FRESH:
                try:
                    parts.removed = await removed_offers(parts.engine)
                    parts.removed_at = time.monotonic()
                except StorageError as exc:
                    # The database is out: keep the last view (checks are buffered anyway).
                    log.debug("cannot read the removed offers: %s", exc)
        return parts.removed

    # -- the engine's calls ----------------------------------------------------------------

    def _job_slots(self) -> int:
        """Jobs at once: every lane's slice (mostly asleep until its next check's time; the
        fetcher's own limits bound the requests) and the planning and sweep jobs."""
        lanes: dict[str, int] = {}
        for offer in self.offers.values():
            host = host_of(offer)
            lanes[host] = max(lanes.get(host, 1), offer.fetch.per_host_concurrency)
        return max(self.settings.model.http.concurrency, sum(lanes.values())) + 2

    def slots(self, start: float, end: float) -> Sequence[Slot]:
        return window(list(self.offers.values()), start, end,
                      jitter=self.settings.model.schedule.jitter)

    async def run_slice(self, slots: Sequence[Slot]) -> None:
        """One lane's checks of one window, each at its time, the host's delay between them;
        returns once their rows are stored. A retried slice skips the slots already stored."""
        parts = self._parts
        if parts is None:
            return
        wanted = [(s, parts.ids.get(s.key)) for s in slots]
        done = await stored_slots(parts.engine, [(oid, s.slot) for s, oid in wanted
                                                 if oid is not None])
        checked = False
        delay = 0.0
        for s, oid in wanted:
            if oid is not None and (oid, s.slot) in done:
                self.metrics.runs_dropped.labels("done").inc()
                continue
            offer = self._current(s.key, oid)
            if offer is None:
                continue
            wait = s.run_at.timestamp() - time.time()
            if checked and offer.fetch.per_host_delay > wait:
                wait = offer.fetch.per_host_delay
            if wait > 0:
                await self._pause(wait)
            # Looked up again at its time: a reload here or on another replica may have
            # removed it while the slice slept.
            offer = self._current(s.key, oid)
            if offer is None or oid is None or oid in await self._removed(parts):
                if offer is not None:
                    self._skipped(s.key, "removed from the catalogue")
                continue
            await self._check(parts, offer, oid, s.slot)
            checked = True
            delay = max(delay, offer.fetch.per_host_delay)
        try:
            await parts.recording.writer.flush()
        except StorageError as exc:
            log.warning("checks buffered, not stored yet: %s", exc)
        # The lane is this job's lock: the next check of the host, on any replica, starts no
        # sooner than the host's delay after this one's last response.
        if checked:
            await asyncio.sleep(delay)

    def _current(self, key: str, oid: int | None) -> Offer | None:
        """The offer of a planned slot if this replica's config has it (under the id it was
        planned with), else None, counted and logged."""
        offer = self.offers.get(key)
        parts = self._parts
        if offer is None or oid is None or parts is None or parts.ids.get(key) != oid:
            self._skipped(key, "not in this replica's config")
            return None
        return offer

    def _skipped(self, key: str, why: str) -> None:
        self.metrics.runs_dropped.labels("removed").inc()
        log.info("check of %s: %s; skipped", key, why)

    async def _pause(self, seconds: float) -> None:
        """Sleep until the next check's time; a replica stopping hands the rest of the slice
        back to the queue (the job fails, and is retried by a replica that runs on) instead of
        holding its shutdown for the whole window."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), seconds)
            raise HandedOver("replica stopping; the rest of this slice goes to the others")

    async def _check(self, parts: _Parts, offer: Offer, oid: int, slot: int) -> None:
        late = time.time() - slot / 1000
        if late > self.settings.model.schedule.misfire_grace_time:
            self.metrics.runs_dropped.labels("misfire").inc()
            log.warning("check of %s missed its slot by more than the grace time", offer.key)
            return
        self.metrics.scheduler_lag.observe(max(late, 0.0))
        at = utcnow()
        recorder = parts.recording.recorder
        self.metrics.jobs_running.inc()
        try:
            result = await check_offer(offer, parts.recording.fetcher,
                                       previous=parts.state.previous.get(offer.key),
                                       extractor=parts.recording.extractor)
        except asyncio.CancelledError:
            recorder.cancelled(offer, at, offer_id=oid, slot=slot)
            raise
        finally:
            self.metrics.jobs_running.dec()
        recorder.record(offer, result, offer_id=oid, slot=slot)

    # -- views -----------------------------------------------------------------------------

    def status(self) -> list[OfferStatus]:
        parts = self._parts
        if parts is None:
            return []
        return [offer_status(offer, parts.state.latest.get(key), parts.state.previous.get(key),
                             None) for key, offer in self.offers.items()]

    async def readiness(self) -> tuple[bool, dict[str, str]]:
        parts = self._parts
        if parts is None or parts.worker is None:
            return False, {"replica": "starting or stopping"}
        checks = {"worker": "stopped" if parts.worker.done() else "ok",
                  "database": await ping(parts.engine) or "ok"}
        problem = await parts.lock.verify()
        if problem is not None:
            checks["lock"] = problem
        writer = parts.recording.writer
        self.metrics.db_buffered.set(writer.pending)
        self.metrics.db_up.set(1 if writer.available else 0)
        if not writer.available:
            checks["database"] = f"writes failing, {writer.pending} checks buffered: " \
                                 f"{writer.last_error}"
        return all(v == "ok" for v in checks.values()), checks


class _Parts:
    """The replica while it runs."""

    def __init__(self, engine: AsyncEngine, recording: Recording, state: OfferState,
                 ids: Mapping[str, int], lock: DaemonLock) -> None:
        self.engine = engine
        self.recording = recording
        self.state = state
        self.ids = ids
        self.lock = lock
        self.worker: asyncio.Task[None] | None = None
        self.job_slots = 0
        self.removed: set[int] = set()  # offer ids the catalogue marks removed
        self.removed_at = float("-inf")
        self.catalogue_lock = asyncio.Lock()
