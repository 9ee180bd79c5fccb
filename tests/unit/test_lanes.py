"""Lanes: a check waits for its host before it takes a global slot, and is shed in time."""

from __future__ import annotations

import asyncio

from pricewatch.runtime.lanes import Lanes


async def test_waiting_for_a_busy_host_holds_no_global_slot() -> None:
    """With two global slots, a busy host's second check waits in its lane without a global
    slot, so another host's check is admitted at once."""
    lanes = Lanes(2)
    assert await lanes.acquire("slow", width=1, wait=30)
    queued = asyncio.create_task(lanes.acquire("slow", width=1, wait=30))
    await asyncio.sleep(0.01)
    assert not queued.done()
    assert await asyncio.wait_for(lanes.acquire("fast", width=1, wait=30), 1)
    lanes.release("slow")
    assert await asyncio.wait_for(queued, 1)  # the host's turn came
    lanes.release("slow")
    lanes.release("fast")


async def test_a_host_that_cannot_keep_up_is_shed_and_counted() -> None:
    """A check that gets no lane slot within its wait is refused, told to on_shed, and holds
    nothing afterwards."""
    shed: list[str] = []
    lanes = Lanes(1, on_shed=shed.append)
    assert await lanes.acquire("slow", width=1, wait=1)
    assert await lanes.acquire("slow", width=1, wait=0.05) is False
    assert shed == ["slow"]
    lanes.release("slow")
    assert await asyncio.wait_for(lanes.acquire("other", width=1, wait=1), 1)
    lanes.release("other")


async def test_cancelled_while_waiting_gives_everything_back() -> None:
    """A check cancelled (shutdown) while it waits for the global slot releases its lane."""
    lanes = Lanes(1)
    assert await lanes.acquire("a", width=1, wait=1)
    waiting = asyncio.create_task(lanes.acquire("b", width=1, wait=30))
    await asyncio.sleep(0.01)
    waiting.cancel()
    await asyncio.gather(waiting, return_exceptions=True)
    lanes.release("a")
    assert await asyncio.wait_for(lanes.acquire("b", width=1, wait=1), 1)
    lanes.release("b")
