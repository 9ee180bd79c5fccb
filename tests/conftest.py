"""Shared fixtures: real local HTTP servers and real databases (SQLite files, PostgreSQL)."""

from __future__ import annotations

import asyncio
import os
import socket
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import asyncpg
import pytest
from aiohttp import web

PG_DSN = os.environ.get("PRICEWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
ServeFn = Callable[[dict[str, Handler]], Awaitable[str]]


@pytest.fixture
async def serve() -> AsyncIterator[ServeFn]:
    """Start an aiohttp server on 127.0.0.1 with the given routes; returns its base URL."""
    runners: list[web.AppRunner] = []

    async def start(routes: dict[str, Handler], host: str = "127.0.0.1") -> str:
        app = web.Application()
        for path, handler in routes.items():
            app.router.add_route("*", path, handler)
        runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
        await runner.setup()
        site = web.TCPSite(runner, host, 0)
        await site.start()
        runners.append(runner)
        port = runner.addresses[0][1]
        return f"http://{host}:{port}"

    yield start
    for runner in runners:
        await runner.cleanup()


@pytest.fixture
def free_port() -> int:
    """A port nothing listens on (bound then released), for 'connection refused'."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def scratch_postgres(prefix: str) -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database named ``prefix_*``, dropped afterwards (skips, or
    fails in CI, when PostgreSQL is unreachable)."""
    try:
        admin = await asyncpg.connect(PG_DSN, timeout=5)
    except (OSError, asyncpg.PostgresError) as exc:
        if os.environ.get("PRICEWATCH_REQUIRE_POSTGRES"):
            pytest.fail(f"PostgreSQL required but unreachable at {PG_DSN}: {exc}")
        pytest.skip(f"PostgreSQL not reachable at {PG_DSN}: {exc}")
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    await admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{PG_DSN.rsplit('/', 1)[0]}/{name}"
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


@pytest.fixture
async def postgres_url() -> AsyncIterator[str]:
    """A fresh, empty PostgreSQL database, dropped afterwards."""
    async with scratch_postgres("pricewatch_test") as url:
        yield url


async def eventually(condition: Callable[[], Awaitable[bool]], within: float, what: str) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``within`` seconds."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


async def daemon_ready(port: int) -> bool:
    """Whether a daemon on ``port`` answers /readyz with 200 (not yet listening: False)."""
    try:
        async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/readyz") as r:
            return r.status == 200
    except aiohttp.ClientError:
        return False


def write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
