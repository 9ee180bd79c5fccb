"""A slow shop only delays its own checks: fast shops keep their schedule beside it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import ServeFn, eventually
from tests.integration.daemon_support import daemon_config, page, rows, running

pytestmark = pytest.mark.slow


async def test_slow_host_cannot_take_the_global_slots(serve: ServeFn, tmp_path: Path) -> None:
    """With four global slots and a host that never answers in time holding ten offers, each
    offer of three fast hosts still gets three checks, and the slow host's checks that cannot
    start in time are shed and counted as host_backlog."""
    slow_seen = 0

    async def slow(_: web.Request) -> web.Response:
        nonlocal slow_seen
        slow_seen += 1
        await asyncio.sleep(30)
        return page()

    async def fast(_: web.Request) -> web.Response:
        return page()

    slow_base = await serve({"/{n}": slow}, host="127.0.0.2")
    fast_bases = [await serve({"/{n}": fast}, host=f"127.0.0.{i}") for i in (3, 4, 5)]
    urls = [f"{slow_base}/{n}" for n in range(10)]
    urls += [f"{base}/{n}" for base in fast_bases for n in range(3)]
    path = daemon_config(tmp_path / "config.yaml", urls,
                         http=", concurrency: 4, per_host_concurrency: 1, "
                              "timeouts: {total: 60s, read: 60s}")
    async with running(path) as daemon:
        fast_keys = [f"p{i}@127.0.0.{3 + (i - 10) // 3}" for i in range(10, 19)]

        async def fast_checked() -> bool:
            counts: dict[str, int] = {}
            for key, outcome in rows(tmp_path / "pw.db"):
                if outcome == "ok":
                    counts[key] = counts.get(key, 0) + 1
            return all(counts.get(k, 0) >= 3 for k in fast_keys)

        await eventually(fast_checked, 40, "three ok checks of every fast offer")

        def shed() -> float:
            return daemon.metrics.registry.get_sample_value(
                "pricewatch_checks_skipped_total",
                {"host": "127.0.0.2", "reason": "host_backlog"}) or 0

        await eventually(lambda: asyncio.sleep(0, shed() >= 1), 20, "a counted host_backlog skip")
    assert slow_seen == 1  # per_host_concurrency 1: one request to the slow host at a time
