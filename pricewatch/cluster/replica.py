"""One cluster replica (`pricewatch run --cluster`): any number of them share one PostgreSQL.

Start-up: hold the daemon lock *shared* (replicas run together; a single-process daemon on the
same database is refused, as it refuses them), serve HTTP, then, one replica at a time under
the start-up lock, migrate, install Procrastinate's schema if missing and sync the catalogue.
Running: the Procrastinate worker runs planning and check jobs (``engine``); each check is
fetched, extracted and stored through the same recorder and batching writer as the daemon's,
and its job ends only once its row is stored, so a replica killed earlier leaves a job that
another replica retries. Alerts are judged by whichever replica stored the check (one at a
time per offer and product) and delivered by the one replica holding the delivery lock.
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
from pricewatch.db.database import load_previous, open_database, ping, stored_slots, sync
from pricewatch.db.lock import DELIVERY_KEY, DaemonLock, SoleLock, daemon_lock, startup_lock
from pricewatch.errors import HandedOver, StorageError
from pricewatch.models import Offer, plain
from pricewatch.redact import mask_url
from pricewatch.runtime.metrics import Metrics
from pricewatch.runtime.pipeline import check_offer, utcnow
from pricewatch.runtime.recorder import OfferState, Recording, recording
from pricewatch.runtime.web import OfferStatus, make_app, serve

log = logging.getLogger(__name__)

DELIVERY_POLL = 2.0  # how soon the delivering replica sees an alert another one stored


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
            loop.add_signal_handler(signal.SIGHUP, _no_reload)
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
                    async with recording(settings, engine, ids, offer_of=self.offers.get,
                                         metrics=self.metrics, state=state,
                                         delivery=(SoleLock(engine, DELIVERY_KEY),
                                                   DELIVERY_POLL)) as parts:
                        self._parts = _Parts(engine, parts, state, ids, lock)
                        worker = asyncio.create_task(cluster_engine.run_worker(
                            app, cluster, concurrency=self._job_slots(),
                            shutdown_timeout=settings.model.schedule.shutdown_timeout),
                            name="cluster-worker")
                        self._parts.worker = worker
                        log.info("pricewatch cluster replica running: %d offers, database %s",
                                 len(self.offers), mask_url(settings.database_url))
                        stop = asyncio.create_task(self._stop.wait())
                        await asyncio.wait({worker, stop}, return_when=asyncio.FIRST_COMPLETED)
                        stop.cancel()
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
                       auth=server.auth)
        runner, self.port = await serve(app, server.host, server.port)
        log.info("serving /metrics on http://%s:%d", server.host, self.port)
        return runner

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
        for s, oid in wanted:
            offer = self.offers.get(s.key)
            if offer is None or oid is None:
                log.warning("check of %s: not in this replica's config; skipped", s.key)
                continue
            if (oid, s.slot) in done:
                self.metrics.runs_dropped.labels("done").inc()
                continue
            wait = s.run_at.timestamp() - time.time()
            if checked and offer.fetch.per_host_delay > wait:
                wait = offer.fetch.per_host_delay
            if wait > 0:
                await self._pause(wait)
            await self._check(parts, offer, oid, s.slot)
            checked = True
        try:
            await parts.recording.writer.flush()
        except StorageError as exc:
            log.warning("checks buffered, not stored yet: %s", exc)
        # The lane is this job's lock: the next check of the host, on any replica, starts no
        # sooner than the host's delay after this one's last response.
        if checked:
            await asyncio.sleep(max(o.fetch.per_host_delay for o in
                                    (self.offers.get(s.key) for s in slots) if o is not None))

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
        rows = []
        for key, offer in self.offers.items():
            last = parts.state.latest.get(key)
            good = parts.state.previous.get(key)
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
                error=None if last is None else last.error, next_check=None))
        return rows

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


def _no_reload() -> None:
    log.warning("SIGHUP: a cluster replica does not reload its config; restart the replicas "
                "one at a time to apply a new one (docs/cluster.md)")
