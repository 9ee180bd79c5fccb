"""HostLimiter's per-host delay and limits, exactly, in fake time (its clock and sleep seams)."""

from __future__ import annotations

import asyncio

import pytest

from pricewatch.fetch.hosts import HostLimiter

DELAY = 0.05


class FakeTime:
    """A clock that moves only when the limiter sleeps or a test says so."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []
        self.shared: asyncio.Semaphore | None = None
        self.shared_held_while_sleeping = False

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        if self.shared is not None and self.shared.locked():
            self.shared_held_while_sleeping = True
        self.now += seconds
        await asyncio.sleep(0)


@pytest.fixture
def fake() -> FakeTime:
    return FakeTime()


@pytest.fixture
def limiter(fake: FakeTime) -> HostLimiter:
    return HostLimiter(clock=fake.clock, sleep=fake.sleep)


async def test_starts_on_one_host_are_the_delay_apart_and_no_more(
    fake: FakeTime, limiter: HostLimiter
) -> None:
    """Each start waits exactly what is left of the delay since the previous start: all of
    it back to back, the rest after a short request, nothing after a long one."""
    starts = []
    for work in (0.0, 0.02, 0.2, 0.0):
        async with limiter.slot("h", concurrency=1, delay=DELAY):
            starts.append(fake.now)
            fake.now += work
    assert starts == pytest.approx([0.0, 0.05, 0.10, 0.30])
    assert fake.slept == pytest.approx([0.05, 0.03])


async def test_concurrent_requests_still_start_the_delay_apart(
    fake: FakeTime, limiter: HostLimiter
) -> None:
    """With two requests allowed in flight, four waiting at once still start one delay apart,
    and never more than two hold the host."""
    starts: list[float] = []
    inside = 0
    most = 0
    release = asyncio.Event()

    async def request() -> None:
        nonlocal inside, most
        async with limiter.slot("h", concurrency=2, delay=DELAY):
            starts.append(fake.now)
            inside += 1
            most = max(most, inside)
            await release.wait()
            inside -= 1

    tasks = [asyncio.create_task(request()) for _ in range(4)]
    for _ in range(10):
        await asyncio.sleep(0)
    assert starts == pytest.approx([0.0, 0.05])  # the other two wait for the host's slots
    release.set()
    await asyncio.gather(*tasks)
    assert starts == pytest.approx([0.0, 0.05, 0.10, 0.15])
    assert most == 2


async def test_other_hosts_never_wait_for_a_host_delay(
    fake: FakeTime, limiter: HostLimiter
) -> None:
    """A second host starts at once while the first one's delay runs."""
    async with limiter.slot("a", concurrency=1, delay=10.0):
        pass
    async with limiter.slot("b", concurrency=1, delay=10.0):
        assert fake.now == 0.0
    assert fake.slept == []


async def test_the_global_slot_is_taken_only_after_the_host_delay(
    fake: FakeTime, limiter: HostLimiter
) -> None:
    """While a request waits for its host's delay it holds no global slot."""
    fake.shared = asyncio.Semaphore(1)
    for _ in range(3):
        async with limiter.slot("h", concurrency=1, delay=DELAY, shared=fake.shared):
            assert fake.shared.locked()
    assert fake.slept == pytest.approx([0.05, 0.05])
    assert not fake.shared_held_while_sleeping
    assert not fake.shared.locked()


async def test_a_raised_delay_applies_from_the_next_start(
    fake: FakeTime, limiter: HostLimiter
) -> None:
    """A robots.txt Crawl-delay raised before the first request or between two is waited in
    full; a lower one never shortens the configured delay."""
    limiter.raise_delay("h", 0.5)
    async with limiter.slot("h", concurrency=1, delay=DELAY):
        pass
    limiter.raise_delay("h", 0.01)
    async with limiter.slot("h", concurrency=1, delay=DELAY):
        pass
    limiter.raise_delay("h", 2.0)
    async with limiter.slot("h", concurrency=1, delay=DELAY):
        pass
    async with limiter.slot("h", concurrency=1, delay=DELAY):
        pass
    assert fake.slept == pytest.approx([0.5, 0.5, 2.0])
