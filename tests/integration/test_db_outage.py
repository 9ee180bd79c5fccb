"""A database outage loses nothing: checks go on, rows wait in memory, /readyz says why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import aiohttp
import asyncpg
import pytest

from pricewatch import config
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog
from pricewatch.runtime.daemon import Daemon
from tests.conftest import eventually
from tests.dbproxy import DatabaseProxy

pytestmark = [pytest.mark.postgres, pytest.mark.slow]


async def ready(port: int) -> tuple[int, dict[str, object]]:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/readyz") as r:
        return r.status, await r.json()


async def test_postgres_outage_buffers_and_recovers(
    postgres_url: str, tmp_path: Path, free_port: int
) -> None:
    """With Postgres cut off mid-run, checks continue, /readyz turns 503 naming the database,
    and after it returns every check made during the outage is in the database."""
    proxy = DatabaseProxy()
    await proxy.start()
    db_name = postgres_url.rsplit("/", 1)[1]
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/{db_name}"
    runner, base = await shop.start(size=3)
    products = catalog(3)
    lines = ["database:", f"  url: {url}", "schedule:", "  interval: 1s",
             "  catch_up_window: 1s", "  jitter: 0", "server:", "  host: 127.0.0.1",
             f"  port: {free_port}", "http:", "  per_host_delay: 0s", "  obey_robots: false",
             "products:"]
    for p in products:
        lines += [f"  - id: {p.id}", f"    name: {p.name}", "    offers:",
                  f"      - url: {base}{p.path}"]
    path = tmp_path / "config.yaml"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    daemon = Daemon(config.load(path, environ={}))
    task = asyncio.create_task(daemon.run())
    try:
        await eventually(lambda: _status(free_port, 200), 30, "ready")
        await proxy.cut()
        await eventually(lambda: _status(free_port, 503), 30, "/readyz to report the outage")
        status, body = await ready(free_port)
        assert status == 503
        assert body["database"] != "ok"
        checks_during = daemon.metrics.registry.get_sample_value(
            "pricewatch_checks_total", {"store": "127.0.0.1", "outcome": "ok"}) or 0
        await asyncio.sleep(3)  # checks keep running while the database is away
        after = daemon.metrics.registry.get_sample_value(
            "pricewatch_checks_total", {"store": "127.0.0.1", "outcome": "ok"}) or 0
        assert after >= checks_during + 3
        await _status(free_port, 503)  # /readyz refreshes the buffer gauge
        assert (daemon.metrics.registry.get_sample_value("pricewatch_db_buffered_checks")
                or 0) > 0
        await proxy.restore()
        await eventually(lambda: _status(free_port, 200), 60, "recovery")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
        await runner.cleanup()
        await proxy.close()
    total = sum(
        daemon.metrics.registry.get_sample_value(
            "pricewatch_checks_total", {"store": "127.0.0.1", "outcome": o}) or 0
        for o in ("ok", "cancelled", "timeout", "network_error"))
    conn = await asyncpg.connect(postgres_url)
    try:
        stored = await conn.fetchval("SELECT count(*) FROM checks")
    finally:
        await conn.close()
    assert stored == total > 0
    assert daemon.metrics.registry.get_sample_value("pricewatch_db_dropped_checks") == 0


async def _status(port: int, expected: int) -> bool:
    try:
        status, _ = await ready(port)
    except aiohttp.ClientError:
        return False
    return status == expected
