"""Reload is safe: an empty file is refused, checks in flight on removed offers are stored,
and the `alerts:` section is applied."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import ServeFn, eventually
from tests.integration.daemon_support import daemon_config, page, rows, running

pytestmark = pytest.mark.slow


async def test_empty_file_is_rejected_until_it_says_products_empty(
    serve: ServeFn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A truncated (empty) config is rejected with file:line, the offers keep being checked and
    the error stays readable on the daemon; an explicit `products: []` is applied."""
    async def handler(_: web.Request) -> web.Response:
        return page()

    base = await serve({"/{n}": handler})
    path = daemon_config(tmp_path / "config.yaml", [f"{base}/a", f"{base}/b"])
    db = tmp_path / "pw.db"
    caplog.set_level(logging.INFO, logger="pricewatch")
    async with running(path) as daemon:
        await eventually(lambda: asyncio.sleep(0, len(rows(db)) >= 2), 30, "first checks")
        path.write_text("", encoding="utf-8")
        assert await daemon.reload() is False
        assert daemon.reloader.last_error is not None
        assert daemon.reloader.last_error.startswith(f"{path}:1: no `products:`")
        assert daemon.reloader.last_error_at is not None
        assert len(daemon.offers) == 2
        before = len(rows(db))
        await eventually(lambda: asyncio.sleep(0, len(rows(db)) >= before + 2), 30,
                         "checks going on after the rejected reload")
        daemon_config(path, [])  # `products: []`
        assert await daemon.reload() is True
        assert daemon.offers == {}
        assert daemon.reloader.last_error is None
    logged = "\n".join(r.getMessage() for r in caplog.records)
    assert f"{path}:1: no `products:` in the file" in logged


async def test_check_in_flight_on_a_removed_offer_is_stored(
    serve: ServeFn, tmp_path: Path
) -> None:
    """An offer removed by a reload while its check runs still gets that check's row, and its
    gauges are not brought back by it."""
    started = asyncio.Event()

    async def slow(_: web.Request) -> web.Response:
        started.set()
        await asyncio.sleep(2)
        return page("9.99")

    async def fast(_: web.Request) -> web.Response:
        return page()

    slow_base = await serve({"/slow": slow}, host="127.0.0.2")
    fast_base = await serve({"/fast": fast}, host="127.0.0.3")
    path = daemon_config(tmp_path / "config.yaml", [f"{fast_base}/fast", f"{slow_base}/slow"],
                         interval="1h")
    async with running(path) as daemon:
        await asyncio.wait_for(started.wait(), 30)
        daemon_config(path, [f"{fast_base}/fast"])
        assert await daemon.reload() is True
        assert "p1@127.0.0.2" not in daemon.offers
        await eventually(lambda: asyncio.sleep(0, ("p1@127.0.0.2", "ok") in rows(
            tmp_path / "pw.db")), 30, "the removed offer's check stored")
        gauge = daemon.metrics.registry.get_sample_value(
            "pricewatch_price", {"product": "p1", "store": "127.0.0.2", "currency": "USD"})
        assert gauge is None


async def test_alert_rule_and_channel_added_by_reload_fire(
    serve: ServeFn, tmp_path: Path
) -> None:
    """A config without alerts, reloaded with a webhook channel and a below-target rule,
    delivers the alert on the next check."""
    received: list[object] = []

    async def handler(_: web.Request) -> web.Response:
        return page("40.00")

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    base = await serve({"/x": handler, "/hook": hook})
    path = daemon_config(tmp_path / "config.yaml", [f"{base}/x"])
    db = tmp_path / "pw.db"
    async with running(path) as daemon:
        await eventually(lambda: asyncio.sleep(0, len(rows(db)) >= 1), 30, "a first check")
        daemon_config(path, [f"{base}/x"], extra=(
            "alerts:\n"
            f"  channels: [{{name: hook, webhook: '{base}/hook'}}]\n"
            "  rules: {below: {target: 50, currency: USD}}\n"))
        assert await daemon.reload() is True
        await eventually(lambda: asyncio.sleep(0, len(received) >= 1), 30,
                         "the alert from the reloaded rule")
