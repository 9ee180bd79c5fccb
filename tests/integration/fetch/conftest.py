"""Fixtures for fetcher tests: the fault server on five loopback hosts, small configs."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from faultserver import HOSTS, FaultServer

from pricewatch.config import HttpConfig
from pricewatch.models import FetchOptions, Timeouts


@pytest.fixture
async def fault() -> AsyncIterator[FaultServer]:
    server = FaultServer()
    runner = web.AppRunner(server.app(), handler_cancellation=True, shutdown_timeout=0.5)
    await runner.setup()
    for host in HOSTS:
        site = web.TCPSite(runner, host, 0)
        await site.start()
        assert site._server is not None
        server.ports[host] = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield server
    await runner.cleanup()


def http_config(**overrides: Any) -> HttpConfig:
    """Defaults scaled down so fault tests take milliseconds, not minutes."""
    data: dict[str, Any] = {
        "per_host_delay": 0,
        "timeouts": {"connect": 2, "read": 1, "total": 3},
        "retries": {"attempts": 3, "backoff_base": 0.05, "backoff_max": 0.2,
                    "retry_after_max": 2},
        "circuit_breaker": {"failures": 5, "pause": 60},
        "max_bytes": "1MiB",
        "max_redirects": 5,
    }
    data.update(overrides)
    return HttpConfig.model_validate(data)


def options(**overrides: Any) -> FetchOptions:
    base: dict[str, Any] = {
        "user_agent": "pricewatch-test/1.0",
        "timeouts": Timeouts(connect=2, read=1, total=3),
        "per_host_delay": 0.0,
        "obey_robots": True,
    }
    base.update(overrides)
    return FetchOptions(**base)
