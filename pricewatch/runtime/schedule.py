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

import asyncio
import contextlib
import hashlib
import heapq
import logging
import math
import random
import time
from array import array
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from apscheduler.jobstores.base import JobLookupError
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

log = logging.getLogger(__name__)



def validate_cron(expression: str) -> None:
    """Raise ValueError unless ``expression`` is a five-field crontab line."""
    try:
        CronTrigger.from_crontab(expression)
    except ValueError as exc:
        raise ValueError(f"invalid cron expression {expression!r}: {exc}") from exc


def cron_times(expression: str, timezone: str, start: datetime, end: datetime
               ) -> list[datetime]:
    """The crontab line's fire times in [start, end)."""
    trigger = CronTrigger.from_crontab(expression, timezone=timezone)
    out: list[datetime] = []
    at = trigger.get_next_fire_time(None, start - timedelta(microseconds=1))
    while at is not None and at < end:
        if at >= start:
            out.append(at)
        at = trigger.get_next_fire_time(at, at + timedelta(seconds=1))
    return out


def next_slot(anchor: float, interval: float, now: float) -> float:
    """The first slot of the grid ``anchor + k * interval`` (k >= 0) after ``now``. A run's
    jitter is added to its slot and never feeds the next one (jitter is in [0, spread), so
    a run never fires before its slot and the slot after it is the next one on the grid):
    the mean gap stays the interval, however late runs start."""
    k = max(0, math.floor((now - anchor) / interval) + 1)
    return anchor + k * interval


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


JobFunc = Callable[[str], Awaitable[None]]
_DRIVER = "pricewatch-slots"
_NONE = math.nan
_SHIFT = 24  # up to 8 million offers
_MASK = (1 << _SHIFT) - 1
_LAST_SHIFT = _SHIFT + 64  # above a 64-bit key hash


def _hash(key: str) -> int:
    return int.from_bytes(hashlib.blake2b(key.encode(), digest_size=8).digest(), "big")


def phases(keys: Iterable[str], interval: float) -> dict[str, float]:
    """Evenly spaced offsets in [0, interval) for ``keys``, in a stable hash order."""
    ordered = sorted(keys, key=_hash)
    n = len(ordered)
    return {key: (rank + 0.5) / n * interval for rank, key in enumerate(ordered)}


class Gridded(Protocol):
    """What places an offer on the grid: its key and interval, unless it has a cron."""

    @property
    def key(self) -> str: ...
    @property
    def interval(self) -> float: ...
    @property
    def cron(self) -> str | None: ...


def grid_phases(offers: Iterable[Gridded]) -> dict[str, float]:
    """Each interval offer's phase: the offers of one interval spread evenly over it. The
    daemon and the cluster's planner share it, so both put a slot at the same instant."""
    by_interval: dict[float, list[str]] = {}
    for offer in offers:
        if offer.cron is None:
            by_interval.setdefault(offer.interval, []).append(offer.key)
    phase: dict[str, float] = {}
    for interval, keys in by_interval.items():
        phase.update(phases(keys, interval))
    return phase


def plan(offers: Iterable[Due], now: datetime, *, catch_up_window: float) -> Iterator[Plan]:
    """Plan every offer's first runs (see the module docstring), one at a time: the caller
    hands each to the scheduler, so a catalogue's plans never all exist at once (at 100,000
    new offers they were a large share of the daemon's peak memory, bench/daemon_memory.py)."""
    offers = list(offers)
    phase = grid_phases(offers)

    # Overdue offers, each as one int ordering them by (last checked, never first; key hash;
    # position): sorted once all are known, at a fraction of a tuple's memory per offer.
    overdue: list[int] = []
    epoch = now.timestamp()
    for position, offer in enumerate(offers):
        if offer.cron is not None:
            trigger = CronTrigger.from_crontab(offer.cron, timezone=offer.timezone)
            start = trigger.get_next_fire_time(None, now) or now
            late = offer.last_checked is None
            yield Plan(offer.key, offer.interval, start, now if late else None,
                       offer.cron, offer.timezone)
            continue
        next_slot = _next_slot(phase[offer.key], offer.interval, epoch)
        # Waiting for the next slot is fine if the gap since the last check stays within one
        # and a half intervals; otherwise the offer is overdue and gets a catch-up run.
        if offer.last_checked is not None and (
            next_slot - offer.last_checked
        ).total_seconds() <= 1.5 * offer.interval:
            yield Plan(offer.key, offer.interval, next_slot)
        else:
            checked = offer.last_checked
            last = 0 if checked is None else 1 + max(0, math.floor(checked.timestamp() * 1000))
            overdue.append(last << _LAST_SHIFT | _hash(offer.key) << _SHIFT | position)

    overdue.sort()
    n = len(overdue)
    for i, entry in enumerate(overdue):
        offer = offers[entry & _MASK]
        window = min(offer.interval, catch_up_window)
        catch_up = now + timedelta(seconds=(i + 0.5) / n * window)
        start = _next_slot(phase[offer.key], offer.interval, epoch)
        # Keep at least half an interval between the catch-up run and the first regular slot.
        while (start - catch_up).total_seconds() < offer.interval / 2:
            start += timedelta(seconds=offer.interval)
        yield Plan(offer.key, offer.interval, start, catch_up)


def _next_slot(phase: float, interval: float, epoch: float) -> datetime:
    """The first slot of the grid ``phase + k * interval`` after ``epoch``."""
    k = math.floor((epoch - phase) / interval) + 1
    return datetime.fromtimestamp(phase + k * interval, UTC)


def _entry(when: float, index: int, is_catch_up: int) -> int:
    return math.ceil(when * 1000) << _SHIFT | index << 1 | is_catch_up


class Scheduler:
    """Every offer's next run in one compact heap, fired by a single APScheduler job.

    One APScheduler job per offer (and one more per catch-up run) cost ~725 bytes each, so
    100,000 offers held ~145 MB of jobs. Here an offer is a few numbers in arrays (its slot
    grid, next regular run, pending catch-up) and one heap entry per pending run; the one
    APScheduler job is re-armed for the heap's earliest time. The semantics are the per-offer
    jobs' were: slots anchored on the plan's grid with fresh jitter per slot (never
    accumulated), at most one run of an offer at a time ("overlap"), a run later than the
    grace time skipped ("misfire"), missed slots coalesced into one.
    """

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
        self._index: dict[str, int] = {}
        self._keys: list[str | None] = []
        self._anchor = array("d")  # the first regular slot; slots are anchor + k * interval
        self._interval = array("d")
        self._next = array("d")  # the next regular run (jitter included); nan: none
        self._catch_up = array("d")  # the pending catch-up run; nan: none
        self._cron: dict[int, CronTrigger] = {}
        # One int per pending run: when (in ms) << 24 | index << 1 | is_catch_up, so the heap
        # orders by time without a tuple per entry (36 bytes instead of ~110). An entry whose
        # time no longer matches the arrays is stale (re-planned, removed) and skipped.
        self._heap: list[int] = []
        self._running: set[int] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._armed: float | None = None
        # Many instances allowed: _wake never awaits, so two cannot interleave; with one, a
        # re-arm from inside _wake would be refused as "still running" and then moved a day on.
        self._scheduler.add_job(self._wake, IntervalTrigger(days=1, timezone=UTC), id=_DRIVER,
                                next_run_time=None, max_instances=1_000, coalesce=True,
                                misfire_grace_time=None)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def start(self) -> None:
        self._scheduler.start()
        self._arm()

    def shutdown(self) -> None:
        """Stop firing runs; running checks are the caller's to wait for."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def next_run(self, key: str) -> datetime | None:
        i = self._index.get(key)
        if i is None:
            return None
        times = [t for t in (self._next[i], self._catch_up[i]) if not math.isnan(t)]
        return datetime.fromtimestamp(min(times), UTC) if times else None

    def put(self, plan: Plan) -> None:
        """Add or replace the runs of one offer."""
        i = self._index.get(plan.key)
        if i is None:
            i = len(self._keys)
            self._index[plan.key] = i
            self._keys.append(plan.key)
            for column in (self._anchor, self._interval, self._next, self._catch_up):
                column.append(_NONE)
        self._anchor[i] = plan.start.timestamp()
        self._interval[i] = plan.interval
        self._cron.pop(i, None)
        if plan.cron is not None:
            trigger = CronTrigger.from_crontab(plan.cron, timezone=plan.timezone)
            trigger.jitter = max(0, int(plan.interval * self._jitter)) or None
            self._cron[i] = trigger
            first = trigger.get_next_fire_time(None, plan.start - timedelta(microseconds=1))
            self._next[i] = first.timestamp() if first is not None else _NONE
        else:
            self._next[i] = self._anchor[i] + self._jitter_for(i)
        self._catch_up[i] = plan.catch_up.timestamp() if plan.catch_up is not None else _NONE
        self._push(i)

    def remove(self, key: str) -> None:
        i = self._index.pop(key, None)
        if i is None:
            return
        self._keys[i] = None
        self._next[i] = self._catch_up[i] = _NONE
        self._cron.pop(i, None)

    # -- the heap and its one APScheduler job ----------------------------------------------------

    def _jitter_for(self, i: int) -> float:
        spread = self._interval[i] * self._jitter
        return random.uniform(0, spread) if spread > 0 else 0.0

    def _push(self, i: int) -> None:
        for when, flag in ((self._next[i], 0), (self._catch_up[i], 1)):
            if not math.isnan(when):
                heapq.heappush(self._heap, _entry(when, i, flag))
        self._arm()

    def _arm(self) -> None:
        """Point the APScheduler job at the earliest pending run."""
        top = (self._heap[0] >> _SHIFT) / 1000 if self._heap else None
        if top == self._armed:
            return
        self._armed = top
        when = None if top is None else datetime.fromtimestamp(top, UTC)
        with contextlib.suppress(JobLookupError):
            self._scheduler.modify_job(_DRIVER, next_run_time=when)

    def _following(self, i: int, now: float) -> float:
        """Offer ``i``'s next regular run after ``now``: the next slot on its grid, freshly
        jittered (or its crontab's next time)."""
        cron = self._cron.get(i)
        if cron is not None:
            after = cron.get_next_fire_time(None, datetime.fromtimestamp(now, UTC))
            return after.timestamp() if after is not None else _NONE
        return next_slot(self._anchor[i], self._interval[i], now) + self._jitter_for(i)

    async def _wake(self) -> None:
        self._armed = None  # APScheduler moved the job on by a day; point it again below
        now = time.time()
        heap = self._heap
        while heap and (heap[0] >> _SHIFT) / 1000 <= now:
            entry = heapq.heappop(heap)
            i, is_catch_up = (entry & _MASK) >> 1, entry & 1
            when = self._catch_up[i] if is_catch_up else self._next[i]
            if math.isnan(when) or _entry(when, i, is_catch_up) != entry:
                continue  # stale
            key = self._keys[i]
            if key is None:
                continue
            if is_catch_up:
                self._catch_up[i] = _NONE
            else:
                self._next[i] = self._following(i, now)
                if not math.isnan(self._next[i]):
                    heapq.heappush(heap, _entry(self._next[i], i, 0))
            late = now - when
            if late > self._misfire:
                self._dropped("misfire")
                log.warning("check of %s missed its slot by more than the grace time", key)
            elif i in self._running:
                self._dropped("overlap")
                log.warning("check of %s still running; this run is skipped", key)
            else:
                if self._on_lag is not None:
                    self._on_lag(max(late, 0.0))
                self._running.add(i)
                task = asyncio.create_task(self._fire(i, key), name=f"check {key}")
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)
        self._arm()

    async def _fire(self, i: int, key: str) -> None:
        try:
            await self._run(key)
        except Exception:
            log.exception("check of %s raised", key)
        finally:
            self._running.discard(i)

    def _dropped(self, reason: str) -> None:
        if self._on_dropped is not None:
            self._on_dropped(reason)
