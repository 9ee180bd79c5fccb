"""The Procrastinate app of one replica: its tasks, its worker, its schema.

Three tasks, every replica registering the same:

- ``plan`` (periodic, every ``cluster.plan_every``): Procrastinate defers it once per period
  for the whole cluster (a unique row per task and timestamp), and it turns that period's slots
  into check jobs in one statement. Each job's queueing lock is its (offer, slot), so a
  re-planned window queues nothing twice.
- ``check``: one offer, one slot. Jobs of one host's lane share a Procrastinate lock, so the
  cluster runs them one at a time, in order; the replica keeps the host's delay inside it.
- ``stalled`` (periodic, every second): jobs still "doing" on a replica whose heartbeat is
  older than ``cluster.stalled_after`` go back to the queue for the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Protocol

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import make_url

from pricewatch.cluster.slots import Slot, cron_every, window_of
from pricewatch.config import ClusterConfig

log = logging.getLogger(__name__)

PLAN_QUEUE = "pricewatch.plan"
CHECK_QUEUE = "pricewatch.checks"


class Work(Protocol):
    """What the tasks call: the replica."""

    def slots(self, start: float, end: float) -> Sequence[Slot]: ...

    async def check(self, key: str, slot: int) -> None: ...


def conninfo(database_url: str) -> str:
    """A libpq URL (psycopg's) for a SQLAlchemy PostgreSQL URL of any driver."""
    url = make_url(database_url).set(drivername="postgresql", query={})
    return url.render_as_string(hide_password=False)


def build(database_url: str, config: ClusterConfig, work: Work, *,
          pool_size: int) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url), min_size=1, max_size=max(2, pool_size)))

    @app.task(name="pricewatch.check", queue=CHECK_QUEUE)
    async def check(key: str, slot: int) -> None:
        await work.check(key, slot)

    @app.periodic(cron=cron_every(config.plan_every), periodic_id="window")
    @app.task(name="pricewatch.plan", queue=PLAN_QUEUE, queueing_lock="pricewatch.plan")
    async def plan(timestamp: int) -> None:
        slots = work.slots(*window_of(timestamp, config.plan_every))
        jobs = [check.configure(lock=s.lock, queueing_lock=f"{s.key}@{s.slot}",
                                schedule_at=s.run_at).make_new_job(key=s.key, slot=s.slot)
                for s in slots]
        if not jobs:
            return
        try:
            await app.job_manager.batch_defer_jobs_async(jobs)
        except AlreadyEnqueued:
            # This window was planned before (a planning run retried after its replica
            # died): queue only the slots not queued yet.
            for job in jobs:
                try:
                    await app.job_manager.defer_job_async(job)
                except AlreadyEnqueued:
                    continue
        log.debug("planned %d checks for the window at %d", len(jobs), timestamp)

    @app.periodic(cron="* * * * * *", periodic_id="stalled")
    @app.task(name="pricewatch.stalled", queue=PLAN_QUEUE, queueing_lock="pricewatch.stalled")
    async def stalled(timestamp: int) -> None:
        del timestamp  # Procrastinate passes each periodic run its time
        for job in await app.job_manager.get_stalled_jobs(
                seconds_since_heartbeat=config.stalled_after):
            log.warning("job %s (%s) was running on a replica that stopped answering; "
                        "retrying it", job.id, job.call_string)
            await app.job_manager.retry_job(job)

    return app


async def run_worker(app: procrastinate.App, config: ClusterConfig, *, concurrency: int,
                     shutdown_timeout: float) -> None:
    """Run jobs until cancelled (then: stop taking jobs, give running ones
    ``shutdown_timeout``, cancel the rest)."""
    await app.run_worker_async(
        concurrency=concurrency, install_signal_handlers=False, listen_notify=True,
        delete_jobs="successful", update_heartbeat_interval=config.heartbeat,
        stalled_worker_timeout=config.stalled_after, fetch_job_polling_interval=config.poll,
        shutdown_graceful_timeout=shutdown_timeout, name="pricewatch")


async def install_schema(app: procrastinate.App) -> None:
    """Procrastinate's tables and functions (the caller holds the start-up lock and knows they
    are missing)."""
    await app.schema_manager.apply_schema_async()
