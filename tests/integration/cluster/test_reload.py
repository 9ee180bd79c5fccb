"""Config reload in cluster mode: two `pricewatch run --cluster` replicas as subprocesses on one
real PostgreSQL, each with its own copy of the file (a ConfigMap reaches pods at different
times), against a local shop."""

from __future__ import annotations

import re
import time
from pathlib import Path

import aiohttp
import pytest

from pricewatch.cluster.replica import CATALOGUE_FRESH
from tests.conftest import ServeFn, eventually
from tests.integration.cluster.support import (
    Replicas,
    Shop,
    cluster_config,
    cluster_database,
    per_offer,
    slot_rows,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(120)]

KEEP, GONE, NEW = "p0@127.0.0.1", "p1@localhost", "p9@127.0.0.1"


async def banner(log: str) -> str:
    """The replica's web UI front page (it shows a rejected reload's banner)."""
    port = re.search(r"serving /metrics on http://127\.0\.0\.1:(\d+)", log)
    assert port, log[-2000:]
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port.group(1)}/") as response:
        return await response.text()


async def test_replicas_reload_an_edited_config(serve: ServeFn, tmp_path: Path) -> None:
    """An edit that adds one offer and removes one: once the first replica has reloaded (and
    synced), the removed offer is checked by neither replica after CATALOGUE_FRESH, although
    the other still runs the old file; once both have, the added one is checked within a
    couple of windows; a broken edit is rejected by both replicas with its file:line (log and
    web UI banner) and the checks go on."""
    shop = Shop()
    base = await serve({"/{name}": shop.handle})
    other = base.replace("127.0.0.1", "localhost")
    async with cluster_database("creload") as db:
        files = [tmp_path / "a" / "config.yaml", tmp_path / "b" / "config.yaml"]

        def write(i: int, urls: list[str], ids: list[str]) -> None:
            files[i].parent.mkdir(exist_ok=True)
            cluster_config(files[i], db, urls, intervals=["1s"] * len(urls), ids=ids)

        before = ([f"{base}/a0", f"{other}/b1"], ["p0", "p1"])
        after = ([f"{base}/a0", f"{base}/a9"], ["p0", "p9"])
        for i in (0, 1):
            write(i, *before)
        replicas = Replicas(files[0], 2, configs=files)
        replicas.start()
        try:
            async def checked(key: str, at_least: int) -> bool:
                return len(per_offer(await slot_rows(db)).get(key, [])) >= at_least

            async def both_checked() -> bool:
                return await checked(KEEP, 2) and await checked(GONE, 2)
            await eventually(both_checked, 40, "two checks of each offer")

            write(0, *after)  # replica 0's copy first; replica 1 still runs the old one

            async def reloaded(i: int, times: int = 1) -> bool:
                return len(re.findall(r"config reloaded: 2 offers \(1 added, 1 removed",
                                      replicas.text(i))) >= times
            await eventually(lambda: reloaded(0), 15, "replica 0 reloaded")
            synced = time.time()  # the removal is in the catalogue by the reload's log line
            # Replica 1 still plans the removed offer; its slices land on either replica.
            # Until replica 1 has skipped one itself (the catalogue says removed), or 8
            # windows: a replica ignoring the catalogue checks it in most of these runs.
            start = len(per_offer(await slot_rows(db))[KEEP])

            async def exposed() -> bool:
                return "removed from the catalogue; skipped" in replicas.text(1) or \
                    await checked(KEEP, start + 16)
            await eventually(exposed, 40, "replica 1 meeting the removed offer's slot")
            assert not await reloaded(1), "replica 1 must still run the old file"

            write(1, *after)
            await eventually(lambda: reloaded(1), 15, "replica 1 reloaded")
            # Both replicas plan and check the added offer now, from the next window on (the
            # windows are 2 s long; the rest is a margin for a loaded machine).
            await eventually(lambda: checked(NEW, 2), 3 * 2.0 + 6,
                             "two checks of the added offer within a couple of windows")
            settled = per_offer(await slot_rows(db))
            # A check started just before the sync may still finish; none starts after.
            late = [start for _, path, start, _ in shop.requests
                    if path == "/b1" and start > synced + CATALOGUE_FRESH]
            assert late == [], f"the removed offer was checked after its removal: {late}"

            for f in files:  # a broken edit: an interval that is not a duration
                f.write_text(f.read_text(encoding="utf-8").replace(
                    "interval: 1s", "interval: soon", 1), encoding="utf-8")

            async def rejected() -> bool:
                return all(f"{files[i]}:" in t and "config reload rejected" in t
                           for i, t in enumerate(replicas.text(i) for i in (0, 1)))
            await eventually(rejected, 15, "both replicas rejecting the broken file")
            for i in (0, 1):
                page = await banner(replicas.text(i))
                assert f"{files[i]}:" in page, page[:3000]
                assert "interval" in page, page[:3000]

            async def going_on() -> bool:
                now = per_offer(await slot_rows(db))
                return all(len(now.get(k, [])) >= len(settled.get(k, [])) + 2
                           for k in (KEEP, NEW))
            await eventually(going_on, 20, "checks going on after the rejected edit")
        finally:
            codes = replicas.stop()
        assert codes == [0, 0], [replicas.text(i)[-2000:] for i in (0, 1)]
        rows = per_offer(await slot_rows(db))
        assert len(rows[KEEP]) == len(set(rows[KEEP])), "a slot checked twice"
        assert len([r for r in shop.requests if r[1] == "/b1" and
                    r[2] > synced + CATALOGUE_FRESH]) == 0
