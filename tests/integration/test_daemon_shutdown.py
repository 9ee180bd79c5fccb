"""Shutdown is bounded and honest: running checks get shutdown_timeout to finish, the rest
are cancelled and recorded, and the summary counts them."""

from __future__ import annotations

import asyncio
import logging
import signal
from pathlib import Path

import pytest
from aiohttp import web

from tests.conftest import ServeFn, eventually
from tests.integration.daemon_support import daemon_config, page, rows, running

pytestmark = pytest.mark.slow


def _with_timeout(path: Path, seconds: str) -> None:
    path.write_text(path.read_text().replace("shutdown_timeout: 1s",
                                             f"shutdown_timeout: {seconds}"))


async def test_running_check_finishes_within_the_shutdown_timeout(
    serve: ServeFn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A check in flight when stop() is called (its page takes 1.5 s, the timeout is 20 s)
    completes and is stored as ok, not cancelled (APScheduler alone cancels it at once)."""
    started = asyncio.Event()
    requests = 0

    async def handler(_: web.Request) -> web.Response:
        nonlocal requests
        requests += 1
        started.set()
        await asyncio.sleep(1.5)
        return page("7.00")

    base = await serve({"/x": handler})
    path = daemon_config(tmp_path / "config.yaml", [f"{base}/x"], interval="1h")
    _with_timeout(path, "20s")
    caplog.set_level(logging.INFO, logger="pricewatch")
    async with running(path):
        await asyncio.wait_for(started.wait(), 30)
    assert rows(tmp_path / "pw.db") == [("p0@127.0.0.1", "ok")]
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("shutdown")]
    assert "1 checks finished, 0 cancelled" in summary[-1], summary


async def test_checks_past_the_timeout_are_cancelled_recorded_and_counted(
    serve: ServeFn, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Checks still running when shutdown_timeout (1 s) is over are cancelled, each stored as
    a cancelled row, counted in the summary line, and no traceback is logged."""
    hung = 0

    async def hang(_: web.Request) -> web.Response:
        nonlocal hung
        hung += 1
        await asyncio.sleep(60)
        return page()

    bases = [await serve({"/x": hang}, host=f"127.0.0.{i}") for i in (2, 3)]
    path = daemon_config(tmp_path / "config.yaml", [f"{b}/x" for b in bases], interval="1h",
                         http=", timeouts: {total: 120s, read: 120s}")
    caplog.set_level(logging.INFO)
    async with running(path):
        await eventually(lambda: asyncio.sleep(0, hung == 2), 30, "both checks in flight")
    stored = sorted(rows(tmp_path / "pw.db"))
    assert stored == [("p0@127.0.0.2", "cancelled"), ("p1@127.0.0.3", "cancelled")]
    summary = [r.getMessage() for r in caplog.records if r.getMessage().startswith("shutdown")]
    assert "0 checks finished, 2 cancelled" in summary[-1], summary
    assert "cancelled 2" in summary[-1], summary
    assert "2 rows written, 0 lost" in summary[-1], summary
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"


async def test_embedded_daemon_installs_no_signal_handlers(
    serve: ServeFn, tmp_path: Path
) -> None:
    """With handle_signals=False the daemon leaves SIGTERM and SIGHUP to its host program."""
    async def handler(_: web.Request) -> web.Response:
        return page()

    base = await serve({"/x": handler})
    path = daemon_config(tmp_path / "config.yaml", [f"{base}/x"])
    before = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)
    async with running(path):
        await eventually(lambda: asyncio.sleep(0, len(rows(tmp_path / "pw.db")) >= 1), 30,
                         "a first check")
        assert (signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGHUP)) == before
