"""The daemon judges every stored check and delivers alerts: exact, once, never from failures."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from aiohttp import web

from pricewatch import config
from pricewatch.runtime.daemon import Daemon
from tests.conftest import ServeFn, eventually

pytestmark = pytest.mark.slow


async def test_daemon_alerts_fire_once_rearm_and_ignore_blocked_pages(
    serve: ServeFn, tmp_path: Path, free_port: int
) -> None:
    """Below-target fires once while the price stays low, not on a captcha page in between,
    and again after the price went above and came back; each alert reaches the webhook."""
    state = {"price": "60.00", "blocked": False}
    received: list[dict[str, object]] = []

    async def page(_: web.Request) -> web.Response:
        if state["blocked"]:
            return web.Response(text="<html><title>Are you a robot?</title>captcha</html>",
                                content_type="text/html")
        return web.Response(text=f'<html><h1>Kettle</h1><span class="price">${state["price"]}'
                            "</span></html>", content_type="text/html")

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(text="ok")

    base = await serve({"/kettle": page, "/hook": hook})
    path = tmp_path / "config.yaml"
    path.write_text(f"""\
database: {{url: "sqlite:///pw.db"}}
schedule: {{interval: 1s, catch_up_window: 1s, jitter: 0, shutdown_timeout: 2s}}
server: {{port: {free_port}}}
http: {{per_host_delay: 0s, obey_robots: false, retries: {{attempts: 1}}}}
alerts:
  channels:
    - name: hook
      webhook: {base}/hook
  rules:
    below: {{target: 50, currency: USD}}
products:
  - id: kettle
    name: Kettle
    offers:
      - url: {base}/kettle
        selector: ".price"
""", encoding="utf-8")
    daemon = Daemon(config.load(path, environ={}))
    task = asyncio.create_task(daemon.run())

    def checks(outcome: str) -> float:
        return daemon.metrics.registry.get_sample_value(
            "pricewatch_checks_total", {"store": "127.0.0.1", "outcome": outcome}) or 0

    async def more_checks(outcome: str, n: int) -> None:
        start = checks(outcome)
        await eventually(lambda: asyncio.sleep(0, checks(outcome) >= start + n), 20,
                         f"{n} more {outcome} checks")

    try:
        await more_checks("ok", 2)  # 60 > 50: nothing
        state["price"] = "45.00"
        await eventually(lambda: asyncio.sleep(0, len(received) == 1), 20, "the first alert")
        await more_checks("ok", 3)  # still below: no repeat
        state["blocked"] = True
        await more_checks("blocked", 2)  # a bot wall in between changes nothing
        state["blocked"] = False
        await more_checks("ok", 2)
        assert len(received) == 1
        state["price"] = "70.00"
        await more_checks("ok", 2)  # above: re-armed
        state["price"] = "49.99"
        await eventually(lambda: asyncio.sleep(0, len(received) == 2), 20, "the second alert")
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)
    first = received[0]["alert"]
    assert isinstance(first, dict)
    assert first["product"] == {"id": "kettle", "name": "Kettle"}
    assert first["new_price"] == "45"
    assert first["currency"] == "USD"
    second = received[1]["alert"]
    assert isinstance(second, dict)
    assert second["new_price"] == "49.99"
    assert len(received) == 2, json.dumps(received)[:500]
