"""`pricewatch once` evaluates and delivers alerts; `pricewatch alerts test|list` report per
channel. Real demo shop, real webhook receiver, real SQLite file."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from conftest import Receiver

from pricewatch.cli import main
from pricewatch.config import load
from pricewatch.demo import shop
from pricewatch.runtime.rounds import run_once


def write_config(tmp_path: Path, base_url: str, hook: str) -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"""
database: {{url: "sqlite:///pw.db"}}
http: {{per_host_delay: 0s, obey_robots: false}}
alerts:
  channels:
    - name: hook
      webhook: {hook}
    - name: dead
      webhook: http://127.0.0.1:1/nothing-listens-here
  retry: {{attempts: 2, backoff_base: 0.01s}}
products:
  - id: kettle
    name: Kettle
    alerts: {{below: 1000000}}
    offers:
      - url: {base_url}/product/classic-kettle-000
        selector: ".buybox .price"
""", encoding="utf-8")
    return path


async def test_once_raises_and_delivers_alerts(tmp_path: Path, webhook: Receiver) -> None:
    """One round against the demo shop fires the target alert once, delivers it to the live
    webhook, records the dead channel as failed, and a second round repeats nothing."""
    runner, base_url = await shop.start(port=0, size=1)
    try:
        settings = load(write_config(tmp_path, base_url, webhook.url))
        first = await run_once(settings)
        second = await run_once(settings)
    finally:
        await runner.cleanup()
    assert [a.rule for a in first.alerts] == ["below"]
    assert second.alerts == []
    assert [body["alert"]["product"]["id"] for body in webhook.received] == ["kettle"]

    code = await asyncio.to_thread(main, ["alerts", "list", "-c", str(tmp_path / "config.yaml")])
    assert code == 0


async def test_alerts_test_reports_each_channel(tmp_path: Path, webhook: Receiver,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    """`alerts test` sends to every channel, prints one row each and exits 1 if one failed."""
    path = write_config(tmp_path, "http://127.0.0.1:9", webhook.url)
    code = await asyncio.to_thread(main, ["alerts", "test", "-c", str(path)])
    out = capsys.readouterr().out
    assert code == 1
    assert [line.split()[:3] for line in out.splitlines()[2:]] == [
        ["hook", "webhook", "sent"], ["dead", "webhook", "FAILED"]]
    assert webhook.received == [{"event": "test"}]


async def test_alerts_list_shows_delivery_status(tmp_path: Path, webhook: Receiver,
                                                 capsys: pytest.CaptureFixture[str]) -> None:
    """`alerts list` shows each alert with the last attempt per channel, failures with why."""
    runner, base_url = await shop.start(port=0, size=1)
    try:
        await run_once(load(write_config(tmp_path, base_url, webhook.url)))
    finally:
        await runner.cleanup()
    code = await asyncio.to_thread(main, ["alerts", "list", "-c", str(tmp_path / "config.yaml")])
    out = capsys.readouterr().out
    assert code == 0
    (row,) = out.splitlines()[2:]
    assert "below" in row
    assert "dead: failed after 2 attempts" in row
    assert "hook: sent" in row
