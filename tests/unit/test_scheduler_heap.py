"""The Scheduler's own heap: runs fire on their anchored slots through one APScheduler job,
catch-ups once, overlaps and misfires are dropped and counted, removal stops an offer."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta

from pricewatch.runtime.schedule import Plan, Scheduler


def _at(seconds: float) -> datetime:
    return datetime.now(UTC) + timedelta(seconds=seconds)


async def test_regular_slots_stay_on_their_grid_and_catch_up_runs_once() -> None:
    """A catch-up run, then regular runs; after each run the next one is on the plan's grid
    (start + k * interval, jitter 0), however late the run itself was."""
    fired: list[str] = []
    offsets: list[float] = []
    start = _at(0.3)

    async def run(key: str) -> None:
        fired.append(key)
        following = sched.next_run(key)
        assert following is not None
        offsets.append((following - start).total_seconds() / 0.2)

    sched = Scheduler(run, jitter=0.0, misfire_grace_time=60)
    sched.put(Plan("a", 0.2, start, catch_up=_at(0.05)))
    sched.start()
    for _ in range(400):
        await asyncio.sleep(0.01)
        if len(fired) >= 4:
            break
    sched.shutdown()
    assert len(fired) >= 4
    assert offsets[0] == 0.0  # after the catch-up: the first regular slot
    assert all(abs(o - round(o)) < 1e-6 and o >= 1 for o in offsets[1:])
    assert offsets == sorted(offsets)


async def test_a_run_still_going_at_its_next_slot_is_skipped_as_an_overlap() -> None:
    """An offer whose check outlasts its interval is not run twice at once; each skipped
    slot is reported as "overlap"."""
    dropped: list[str] = []
    active = 0
    most = 0

    async def run(_key: str) -> None:
        nonlocal active, most
        active += 1
        most = max(most, active)
        await asyncio.sleep(0.5)
        active -= 1

    sched = Scheduler(run, jitter=0.0, misfire_grace_time=60, on_dropped=dropped.append)
    sched.put(Plan("slow", 0.1, _at(0.05)))
    sched.start()
    await asyncio.sleep(0.45)
    sched.shutdown()
    assert most == 1
    assert dropped
    assert set(dropped) == {"overlap"}


async def test_a_run_later_than_the_grace_time_is_a_misfire() -> None:
    """When the loop was blocked past the grace time, the late run is skipped as "misfire"
    and the offer continues on its next slot."""
    dropped: list[str] = []
    fired: list[str] = []

    async def run(key: str) -> None:
        fired.append(key)

    sched = Scheduler(run, jitter=0.0, misfire_grace_time=0.2, on_dropped=dropped.append)
    sched.put(Plan("late", 10.0, _at(0.05)))
    sched.start()
    time.sleep(0.4)  # noqa: ASYNC251  (a blocked loop: the slot passes by more than the grace)
    await asyncio.sleep(0.1)
    sched.shutdown()
    assert fired == []
    assert dropped == ["misfire"]
    assert sched.next_run("late") is not None


async def test_removed_and_replanned_offers() -> None:
    """A removed offer never fires again; put() again replaces an offer's plan, and
    next_run names the earliest pending run."""
    fired: list[str] = []

    async def run(key: str) -> None:
        fired.append(key)

    sched = Scheduler(run, jitter=0.0, misfire_grace_time=60)
    sched.put(Plan("gone", 0.1, _at(0.1)))
    sched.put(Plan("moved", 0.1, _at(0.1)))
    catch_up = _at(30)
    sched.put(Plan("moved", 3600, _at(60), catch_up=catch_up))
    assert sched.next_run("moved") == catch_up
    sched.remove("gone")
    assert sched.next_run("gone") is None
    sched.start()
    await asyncio.sleep(0.5)
    sched.shutdown()
    assert fired == []


def test_an_offer_costs_a_few_hundred_bytes() -> None:
    """Planned offers with catch-up runs hold less than 400 bytes each of scheduler state
    (one APScheduler job per offer and one per catch-up held ~1,450)."""
    import tracemalloc

    async def run(_key: str) -> None:
        return None

    keys = [f"product-{i}@store-{i % 20}" for i in range(20_000)]  # the daemon holds these
    tracemalloc.start()
    before = tracemalloc.get_traced_memory()[0]
    sched = Scheduler(run, jitter=0.1, misfire_grace_time=60)
    now = datetime.now(UTC)
    for i, key in enumerate(keys):
        sched.put(Plan(key, 3600.0, now + timedelta(seconds=1800 + i / 50),
                       catch_up=now + timedelta(seconds=i / 400)))
    used = tracemalloc.get_traced_memory()[0] - before
    tracemalloc.stop()
    assert used < 400 * len(keys), used
