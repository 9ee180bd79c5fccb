"""The Procrastinate app of one replica: its tasks, its worker, its schema.

Three tasks, every replica registering the same:

- ``plan`` (periodic, every ``cluster.plan_every``): Procrastinate defers it once per period
  for the whole cluster (a unique row per task and timestamp), and it turns that period's slots
  into one job per host lane, in one statement. Each job's queueing lock is its (lane,
  window), so a re-planned window queues nothing twice.
- ``slice``: one lane's checks of one window, each at its time. A job per check cost several
  transactions per check (bench/cluster.py); a slice shares them among its checks. Jobs of one
  lane share a Procrastinate lock, so the cluster runs them one at a time, in order; the
  replica keeps the host's delay between its checks.
- ``stalled`` (periodic, every second): jobs still "doing" on a replica whose heartbeat is
  older than ``cluster.stalled_after`` go back to the queue for the others.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Protocol

import procrastinate
from procrastinate.exceptions import AlreadyEnqueued
from sqlalchemy.engine import make_url

from pricewatch.cluster.slots import Slot, cron_every, window_of
from pricewatch.config import ClusterConfig

log = logging.getLogger(__name__)

PLAN_QUEUE = "pricewatch.plan"
CHECK_QUEUE = "pricewatch.checks"
SLICE_ATTEMPTS = 10


class Work(Protocol):
    """What the tasks call: the replica."""

    def slots(self, start: float, end: float) -> Sequence[Slot]: ...

    async def run_slice(self, slots: Sequence[Slot]) -> None: ...


def to_args(slots: Sequence[Slot]) -> list[list[str | int | float]]:
    """A slice as the job's JSON arguments: [key, slot, run_at epoch seconds] each."""
    return [[s.key, s.slot, s.run_at.timestamp()] for s in slots]


def from_args(rows: Sequence[Sequence[str | int | float]]) -> list[Slot]:
    return [Slot(str(key), int(slot), datetime.fromtimestamp(float(at), UTC), "")
            for key, slot, at in rows]


def conninfo(database_url: str) -> str:
    """A libpq URL (psycopg's) for a SQLAlchemy PostgreSQL URL of any driver."""
    url = make_url(database_url).set(drivername="postgresql", query={})
    return url.render_as_string(hide_password=False)


def build(database_url: str, config: ClusterConfig, work: Work, *,
          pool_size: int) -> procrastinate.App:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(
        conninfo=conninfo(database_url), min_size=1, max_size=max(2, pool_size)))

    # Retried (at once, keeping its lock and its place) when it fails or a replica's shutdown
    # cuts it short: the retry skips the slots already stored and checks the rest.
    @app.task(name="pricewatch.slice", queue=CHECK_QUEUE,
              retry=procrastinate.RetryStrategy(max_attempts=SLICE_ATTEMPTS, wait=1))
    async def check_slice(slots: list[list[str | int | float]]) -> None:
        await work.run_slice(from_args(slots))

    @app.periodic(cron=cron_every(config.plan_every), periodic_id="window")
    @app.task(name="pricewatch.plan", queue=PLAN_QUEUE, queueing_lock="pricewatch.plan")
    async def plan(timestamp: int) -> None:
        lanes: dict[str, list[Slot]] = {}
        for s in work.slots(*window_of(timestamp, config.plan_every)):
            lanes.setdefault(s.lock, []).append(s)
        jobs = [check_slice.configure(lock=lock, queueing_lock=f"{lock}@{timestamp}",
                                      schedule_at=slots[0].run_at)
                .make_new_job(slots=to_args(slots))  # type: ignore[arg-type]
                for lock, slots in lanes.items()]
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
        log.debug("planned %d lanes for the window at %d", len(jobs), timestamp)

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
