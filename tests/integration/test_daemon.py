"""`pricewatch run` as a real process: scheduled checks, live metrics, reload, clean shutdown."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from prometheus_client.parser import text_string_to_metric_families

from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog, price_at
from tests.conftest import ServeFn, daemon_ready, eventually

NOW = 1_790_000_000.0
pytestmark = pytest.mark.slow


def config_text(base: str, slow: str, port: int, products: int, *, broken: bool = False) -> str:
    lines = [
        "database:", "  url: sqlite:///pw.db",
        "schedule:", "  interval: 2s", "  catch_up_window: 1s", "  jitter: 0",
        "  shutdown_timeout: 1s",
        "server:", "  host: 127.0.0.1", f"  port: {port}",
        "http:", "  per_host_delay: 0s", "  obey_robots: false",
        "  retries: {attempts: 1}",
        "products:",
        "  - id: slow", "    name: Slow", "    offers:", f"      - url: {slow}/slow",
        "        timeouts: {total: 30s, read: 30s}",
    ]
    for product in catalog(products):
        lines += [f"  - id: {product.id}", f"    name: {product.name}", "    offers:",
                  f"      - url: {base}{product.path}"]
        if product.style in ("css", "stock"):
            lines.append('        selector: ".buybox .price"')
    if broken:
        lines += ["  - id: broken", "    name: Broken", "    offers:", "      - url: nope"]
    return "\n".join(lines) + "\n"


async def scrape(port: int) -> tuple[str, dict[tuple[str, tuple[tuple[str, str], ...]], float]]:
    async with aiohttp.ClientSession() as session, session.get(
        f"http://127.0.0.1:{port}/metrics"
    ) as response:
        text = await response.text()
    samples = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return text, samples


def value(samples: dict[tuple[str, tuple[tuple[str, str], ...]], float], name: str,
          **labels: str) -> float | None:
    return samples.get((name, tuple(sorted(labels.items()))))


def rows(db: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(db) as conn:
        return conn.execute(
            "SELECT o.key, c.outcome FROM checks c JOIN offers o ON o.id = c.offer_id"
        ).fetchall()


async def test_daemon_lifecycle(serve: ServeFn, free_port: int, tmp_path: Path) -> None:
    """Rows accumulate, gauges equal the shop's prices, SIGHUP adds a product, a broken config
    is rejected while the old one runs, SIGTERM exits 0 in bound and every started check has
    a row (the one cut short is recorded as cancelled)."""
    slow_requests = 0

    async def slow(_: web.Request) -> web.Response:
        nonlocal slow_requests
        slow_requests += 1
        await asyncio.sleep(30)
        return web.Response(text="never")

    slow_base = await serve({"/slow": slow})
    runner, base = await shop.start(size=4, clock=lambda: NOW)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(config_text(base, slow_base, free_port, 3), encoding="utf-8")
    log_path = tmp_path / "daemon.log"
    log = log_path.open("w")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pricewatch.cli", "run", "-c", str(cfg), "--log-level", "info"],
        stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path,
    )
    try:
        await eventually(lambda: daemon_ready(free_port), 30, "/readyz")
        products = catalog(4)

        async def priced(count: int) -> bool:
            _, samples = await scrape(free_port)
            return all(value(samples, "pricewatch_price", product=p.id, store="127.0.0.1",
                             currency=p.currency) is not None for p in products[:count])

        await eventually(lambda: priced(3), 20, "price gauges of the first three products")
        _, samples = await scrape(free_port)
        for p in products[:3]:
            gauge = value(samples, "pricewatch_price", product=p.id, store="127.0.0.1",
                          currency=p.currency)
            assert gauge == pytest.approx(float(price_at(p, NOW))), p.style
        assert value(samples, "pricewatch_offers_configured") == 4
        # The status page and its JSON show the same prices.
        async with aiohttp.ClientSession() as session:
            async with session.get(f"http://127.0.0.1:{free_port}/offers.json") as r:
                listing = {row["offer"]: row for row in await r.json()}
            async with session.get(f"http://127.0.0.1:{free_port}/") as r:
                page = await r.text()
        for p in products[:3]:
            row = listing[f"{p.id}@127.0.0.1"]
            assert row["price"] == str(price_at(p, NOW))
            assert row["outcome"] == "ok"
            assert f"{price_at(p, NOW)} {p.currency}" in page
            assert p.name in page
        assert listing["slow@127.0.0.1"]["price"] is None

        db = tmp_path / "pw.db"

        async def accumulated() -> bool:
            keys = [k for k, _ in rows(db) if k.startswith(products[0].id)]
            return len(keys) >= 3

        await eventually(accumulated, 20, "three rows for one offer (interval 2s)")

        # SIGHUP with an added product schedules it.
        cfg.write_text(config_text(base, slow_base, free_port, 4), encoding="utf-8")
        proc.send_signal(signal.SIGHUP)
        await eventually(lambda: priced(4), 20, "the added product's price gauge")
        _, samples = await scrape(free_port)
        assert value(samples, "pricewatch_offers_configured") == 5

        # A broken config is rejected; the running config keeps checking.
        cfg.write_text(config_text(base, slow_base, free_port, 4, broken=True), encoding="utf-8")
        proc.send_signal(signal.SIGHUP)

        async def rejected() -> bool:
            _, samples = await scrape(free_port)
            return (value(samples, "pricewatch_config_reload_failures_total") or 0) >= 1

        await eventually(rejected, 20, "the reload failure metric")
        before = len(rows(db))
        await eventually(lambda: asyncio.sleep(0, len(rows(db)) > before + 3), 20,
                    "checks continuing after the rejected reload")
        text, samples = await scrape(free_port)
        assert value(samples, "pricewatch_offers_configured") == 5
        assert "pricewatch_checks_created" not in text  # no _created noise

        if shutil.which("promtool"):
            lint = subprocess.run(["promtool", "check", "metrics"], input=text.encode(),
                                  capture_output=True, timeout=30, check=False)
            assert lint.returncode == 0, lint.stdout.decode() + lint.stderr.decode()
            assert lint.stdout.decode().strip() == "", lint.stdout.decode()
        elif os.environ.get("CI"):
            pytest.fail("promtool is missing in CI")

        await eventually(lambda: asyncio.sleep(0, slow_requests >= 1), 10, "a slow check in flight")

        async def overlapped() -> bool:
            _, samples = await scrape(free_port)
            dropped = value(samples, "pricewatch_scheduler_dropped_runs_total", reason="overlap")
            return (dropped or 0) >= 1

        # The slow check hangs 30 s on a 2 s interval: its next runs are dropped, not stacked.
        await eventually(overlapped, 15, "an overlapping run to be dropped and counted")
        assert slow_requests == 1
        started = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.to_thread(proc.wait, 30)
        elapsed = time.monotonic() - started
    finally:
        if proc.poll() is None:
            proc.kill()
        log.close()
        await runner.cleanup()
    output = log_path.read_text()
    assert code == 0, output
    assert elapsed < 15, output  # shutdown_timeout is 1 s; generous for a loaded machine
    assert "config reload rejected" in output
    assert "config.yaml:" in output
    assert "products[5].offers[0].url: not an http(s) URL" in output
    stored = rows(tmp_path / "pw.db")
    slow_rows = [o for k, o in stored if k.startswith("slow@")]
    assert len(slow_rows) >= slow_requests  # every request the server saw has its row
    assert "cancelled" in slow_rows
    assert "Traceback" not in output  # a cancelled check is a row, not an APScheduler traceback
    assert "0 lost" in output.splitlines()[-1], output.splitlines()[-1]
    summary = output.splitlines()[-1]
    written = int(summary.split(" rows written")[0].rsplit(" ", 1)[1])
    assert written == len(stored)
