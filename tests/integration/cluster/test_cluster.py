"""Three `pricewatch run --cluster` replicas as subprocesses on one real PostgreSQL, against a
local shop and a local webhook receiver."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import signal
import time
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import ServeFn, eventually
from tests.integration.cluster.support import (
    RETRY_BOUND,
    Replicas,
    Shop,
    cluster_config,
    cluster_database,
    max_overlap,
    per_offer,
    slot_rows,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(120)]

def assert_every_slot_once(slots: dict[str, list[int]], every: dict[str, int],
                           rounds: int) -> None:
    """Each offer of ``every`` (key -> interval in ms): at least ``rounds`` slots, none twice,
    none skipped between its first and last."""
    assert set(slots) == set(every)
    for key, got in slots.items():
        assert len(got) == len(set(got)), f"{key} checked twice in a slot: {got}"
        assert len(got) >= rounds, f"{key}: only {len(got)} slots"
        gaps = {b - a for a, b in itertools.pairwise(got)}
        assert gaps == {every[key]}, f"{key}: a slot was skipped: {got}"


async def test_three_replicas_one_schedule(serve: ServeFn, tmp_path: Path) -> None:
    """Three replicas started at once on an empty database: one migrates and syncs the
    catalogue; every offer is then checked exactly once per slot; per-host concurrency 1 and
    the 0.3 s delay hold at the shop over all replicas; the target-price alert reaches the
    webhook once."""
    shop = Shop()
    hooks: list[dict[str, object]] = []

    async def hook(request: web.Request) -> web.Response:
        hooks.append(await request.json())
        await asyncio.sleep(1.5)  # a slow receiver: a second sender would overlap
        return web.Response(text="ok")

    base = await serve({"/{name}": shop.handle})
    receiver = await serve({"/hook": hook})
    other = base.replace("127.0.0.1", "localhost")
    # At 127.0.0.1, a0's slots (every 1 s) fall on a1's and a2's (every 2 s): only the lane
    # lock keeps those checks apart. b0 is another host; cheap is below the alert's target.
    urls = [f"{base}/a0", f"{base}/a1", f"{base}/a2", f"{other}/b0", f"{base}/cheap"]
    intervals = ["1s", "2s", "2s", "4s", "4s"]
    every = {"p0@127.0.0.1": 1000, "p1@127.0.0.1": 2000, "p2@127.0.0.1": 2000,
             "p3@localhost": 4000, "p4@127.0.0.1": 4000}
    alerts = (f"alerts:\n  channels:\n    - name: hook\n      webhook: {receiver}/hook\n"
              "  rules:\n    below: {target: 10}")
    async with cluster_database() as db:
        replicas = Replicas(cluster_config(tmp_path / "config.yaml", db, urls, extra=alerts,
                                           intervals=intervals), 3)
        replicas.start()
        try:
            async def rounds_done() -> bool:
                slots = per_offer(await slot_rows(db))
                return len(slots) == len(urls) and min(len(s) for s in slots.values()) >= 3
            await eventually(rounds_done, 40, "three slots of every offer")
            await asyncio.sleep(2.5)  # let a delivery that should not happen happen
        finally:
            codes = replicas.stop()
        assert codes == [0, 0, 0], [replicas.text(i)[-2000:] for i in range(3)]
        assert replicas.count(r"database migrated from empty") == 1
        assert replicas.count(r"job engine schema installed") == 1
        assert replicas.count(r"catalogue synced: 5 offers, 5 new") == 1
        assert replicas.count(r"catalogue synced: 5 offers, 0 new") == 2
        rows = await slot_rows(db)
    assert {outcome for _, _, outcome in rows} <= {"ok", "cancelled"}
    assert_every_slot_once(per_offer(rows), every, 3)
    for host in ("127.0.0.1", "localhost"):
        spans = sorted((s, e) for h, _, s, e in shop.requests if h == host)
        assert max_overlap(spans) == 1, f"{host}: two requests at once"
        starts = [s for s, _ in spans]
        assert min(b - a for a, b in itertools.pairwise(starts)) >= 0.3, host
    alerted = [(h["alert"]["rule"], h["alert"]["subject"]) for h in hooks]  # type: ignore[index]
    assert alerted == [("below", "p4@127.0.0.1")], json.dumps(hooks)


async def test_killed_replica_checks_are_retried_once(serve: ServeFn, tmp_path: Path) -> None:
    """SIGKILL the replica fetching a slow page: another replica checks that slot within the
    documented bound, and no offer is checked twice in any slot or misses one."""
    shop = Shop(slow={"/slow"})
    base = await serve({"/{name}": shop.handle})
    urls = [f"{base}/slow", f"{base.replace('127.0.0.1', 'localhost')}/a0"]
    async with cluster_database() as db:
        replicas = Replicas(cluster_config(tmp_path / "config.yaml", db, urls), 3)
        replicas.start()
        try:
            async def slow_started() -> bool:
                return bool(shop.started.get("/slow"))
            await eventually(slow_started, 30, "the slow page requested")
            first, port = shop.started["/slow"][0]
            victim = replicas.pid_of_client_port(port)
            assert victim is not None
            os.kill(victim, signal.SIGKILL)
            killed = time.time()

            async def retried() -> bool:
                return len(shop.started.get("/slow", [])) >= 2
            # The documented bound, with two seconds for a loaded machine.
            await eventually(retried, RETRY_BOUND + 2, "the slow slot retried")

            async def settled() -> bool:
                slots = per_offer(await slot_rows(db))
                return len(slots) == 2 and min(len(s) for s in slots.values()) >= 4
            await eventually(settled, 40, "four slots of every offer")
        finally:
            codes = replicas.stop()
        rows = await slot_rows(db)
    assert sorted(codes) == [-signal.SIGKILL, 0, 0]
    assert first < killed < shop.started["/slow"][1][0]
    assert_every_slot_once(per_offer(rows), {"p0@127.0.0.1": 2000, "p1@localhost": 2000}, 4)
    assert {outcome for _, _, outcome in rows} <= {"ok", "cancelled"}
