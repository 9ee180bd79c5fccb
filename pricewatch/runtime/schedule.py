"""The only importer of APScheduler (3.x, untyped): when each offer is checked.

Planning is pure and separate from the scheduler:

- Every offer has a *phase* inside its interval. Offers of one interval are ranked by a hash of
  their key and spread evenly over it, so 10,000 hourly offers mean ~2.8 checks a second, not
  10,000 at the top of the hour, and one shop's offers interleave with the others'.
- Slots are anchored to the Unix epoch (``phase + k * interval``), so a restart lands every
  offer on the same slots as before: nothing is re-checked just because the process restarted.
- An offer never checked, or whose last check is older than its interval allows, gets one
  catch-up run soon, spread over ``catch_up_window``; its regular slots continue afterwards.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import math
import random
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from apscheduler.events import (
    EVENT_JOB_MAX_INSTANCES,
    EVENT_JOB_MISSED,
    EVENT_JOB_SUBMITTED,
    JobEvent,
    JobSubmissionEvent,
)
from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.base import BaseTrigger
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.date import DateTrigger

log = logging.getLogger(__name__)

CATCH_UP_SUFFIX = "#catch-up"


def validate_cron(expression: str) -> None:
    """Raise ValueError unless ``expression`` is a five-field crontab line."""
    try:
        CronTrigger.from_crontab(expression)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc


@dataclass(frozen=True, slots=True)
class Plan:
    """When one offer runs: regular slots from ``start`` every ``interval`` (or ``cron``), and
    optionally a one-off catch-up run first."""

    key: str
    interval: float
    start: datetime
    catch_up: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"


@dataclass(frozen=True, slots=True)
class Due:
    """Input to planning: an offer's schedule and when it was last checked."""

    key: str
    interval: float
    last_checked: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def phases(keys: Iterable[str], interval: float) -> dict[str, float]:
    """Evenly spaced offsets in [0, interval) for ``keys``, in a stable hash order."""
    ordered = sorted(keys, key=_hash)
    n = len(ordered)
    return {key: (rank + 0.5) / n * interval for rank, key in enumerate(ordered)}


def plan(offers: Iterable[Due], now: datetime, *, catch_up_window: float) -> list[Plan]:
    """Plan every offer's first runs (see the module docstring)."""
    offers = list(offers)
    by_interval: dict[float, list[str]] = {}
    for offer in offers:
        if offer.cron is None:
            by_interval.setdefault(offer.interval, []).append(offer.key)
    phase: dict[str, float] = {}
    for interval, keys in by_interval.items():
        phase.update(phases(keys, interval))

    plans: list[Plan] = []
    overdue: list[tuple[Due, datetime]] = []
    epoch = now.timestamp()
    for offer in offers:
        if offer.cron is not None:
            trigger = CronTrigger.from_crontab(offer.cron, timezone=offer.timezone)
            start = trigger.get_next_fire_time(None, now) or now
            late = offer.last_checked is None
            plans.append(Plan(offer.key, offer.interval, start, now if late else None,
                              offer.cron, offer.timezone))
            continue
        interval = offer.interval
        k = math.floor((epoch - phase[offer.key]) / interval) + 1
        next_slot = datetime.fromtimestamp(phase[offer.key] + k * interval, UTC)
        # Waiting for the next slot is fine if the gap since the last check stays within one
        # and a half intervals; otherwise the offer is overdue and gets a catch-up run.
        if offer.last_checked is not None and (
            next_slot - offer.last_checked
        ).total_seconds() <= 1.5 * interval:
            plans.append(Plan(offer.key, interval, next_slot))
        else:
            overdue.append((offer, next_slot))

    overdue.sort(key=lambda item: (item[0].last_checked or datetime.min.replace(tzinfo=UTC),
                                   _hash(item[0].key)))
    n = len(overdue)
    for i, (offer, next_slot) in enumerate(overdue):
        window = min(offer.interval, catch_up_window)
        catch_up = now + timedelta(seconds=(i + 0.5) / n * window)
        start = next_slot
        # Keep at least half an interval between the catch-up run and the first regular slot.
        while (start - catch_up).total_seconds() < offer.interval / 2:
            start += timedelta(seconds=offer.interval)
        plans.append(Plan(offer.key, offer.interval, start, catch_up))
    return plans


class AnchoredTrigger(BaseTrigger):  # type: ignore[misc]  # untyped base
    """Fires once per slot ``start + k * interval``, each fire moved by its own random offset
    in ``[-jitter/2, +jitter/2]`` around the slot. APScheduler's IntervalTrigger adds jitter to
    the previous (already jittered) fire time, so offsets accumulate and the mean gap grows by
    half the jitter; here the next slot is found from the anchor, never from the last fire."""

    __slots__ = ("_half", "_interval", "_rng", "_start")

    def __init__(self, start: datetime, interval: float, jitter: float,
                 rng: random.Random | None = None) -> None:
        self._start = start
        self._interval = interval
        # At most a quarter interval either way, so a fire time always names its slot.
        self._half = min(jitter / 2, interval / 4)
        self._rng = rng or random.Random()

    def slot(self, k: int) -> datetime:
        return self._start + timedelta(seconds=k * self._interval)

    def slot_of(self, fire_time: datetime) -> int:
        """The slot a fire time belongs to."""
        return round((fire_time - self._start).total_seconds() / self._interval)

    def get_next_fire_time(self, previous_fire_time: datetime | None,
                           now: datetime) -> datetime:
        if previous_fire_time is None:
            elapsed = (now - self._start).total_seconds()
            k = max(0, math.ceil((elapsed - self._half) / self._interval))
        else:
            k = self.slot_of(previous_fire_time) + 1
        offset = self._rng.uniform(-self._half, self._half) if self._half else 0.0
        return self.slot(k) + timedelta(seconds=offset)

    def __str__(self) -> str:
        return f"anchored[{self._start.isoformat()} every {self._interval}s ±{self._half}s]"


def trigger(plan: Plan, jitter: float, rng: random.Random | None = None) -> BaseTrigger:
    """The regular trigger of one plan; ``jitter`` is a fraction of the interval."""
    if plan.cron is not None:
        cron = CronTrigger.from_crontab(plan.cron, timezone=plan.timezone)
        cron.jitter = max(0, int(plan.interval * jitter)) or None
        return cron
    return AnchoredTrigger(plan.start, plan.interval, plan.interval * jitter, rng)


JobFunc = Callable[[str], Awaitable[None]]


class Scheduler:
    """A thin, typed face on AsyncIOScheduler: one job per offer (plus catch-up runs)."""

    def __init__(
        self,
        run: JobFunc,
        *,
        jitter: float,
        misfire_grace_time: float,
        on_lag: Callable[[float], None] | None = None,
        on_dropped: Callable[[str], None] | None = None,
    ) -> None:
        self._run = run
        self._jitter = jitter
        self._scheduler = AsyncIOScheduler(timezone=UTC)
        self._misfire = misfire_grace_time
        self._on_lag = on_lag
        self._on_dropped = on_dropped  # told "overlap" or "misfire" for each run not made
        self._scheduler.add_listener(self._event, EVENT_JOB_SUBMITTED | EVENT_JOB_MAX_INSTANCES
                                     | EVENT_JOB_MISSED)

    def _event(self, event: JobEvent) -> None:
        if isinstance(event, JobSubmissionEvent) and event.code == EVENT_JOB_SUBMITTED:
            if self._on_lag is not None and event.scheduled_run_times:
                lag = (datetime.now(UTC) - event.scheduled_run_times[-1]).total_seconds()
                self._on_lag(max(lag, 0.0))
        elif event.code == EVENT_JOB_MAX_INSTANCES:
            if self._on_dropped is not None:
                self._on_dropped("overlap")
            log.warning("check of %s still running; this run is skipped", event.job_id)
        elif event.code == EVENT_JOB_MISSED:
            if self._on_dropped is not None:
                self._on_dropped("misfire")
            log.warning("check of %s missed its slot by more than the grace time", event.job_id)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop firing jobs; running checks are the caller's to wait for."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_run(self, key: str) -> datetime | None:
        job = self._scheduler.get_job(key)
        return None if job is None else job.next_run_time

    def put(self, plan: Plan) -> None:
        """Add or replace the jobs of one offer."""
        common: dict[str, Any] = {
            "args": [plan.key],
            "max_instances": 1,
            "coalesce": True,
            "misfire_grace_time": math.ceil(self._misfire),
            "replace_existing": True,
        }
        self._scheduler.add_job(self._run, trigger(plan, self._jitter), id=plan.key, **common)
        if plan.catch_up is not None:
            self._scheduler.add_job(self._run, DateTrigger(plan.catch_up, timezone=UTC),
                                    id=plan.key + CATCH_UP_SUFFIX, **common)

    def remove(self, key: str) -> None:
        for job_id in (key, key + CATCH_UP_SUFFIX):
            with contextlib.suppress(JobLookupError):
                self._scheduler.remove_job(job_id)
