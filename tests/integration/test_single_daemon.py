"""One daemon per database: a second `run` is refused before it migrates or fetches, naming
the holder; a port in use is a one-line error."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import text

from pricewatch.db.engine import create_engine
from pricewatch.db.lock import daemon_lock
from pricewatch.errors import DatabaseInUse
from tests.conftest import ServeFn
from tests.integration.daemon_support import daemon_config, page

pytestmark = pytest.mark.slow


def run_cli(config: Path, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "pricewatch.cli", "run", "-c", str(config)],
                          capture_output=True, text=True, timeout=timeout, check=False,
                          cwd=config.parent)


async def _shop(serve: ServeFn) -> tuple[str, list[str]]:
    seen: list[str] = []

    async def handler(request: web.Request) -> web.Response:
        seen.append(request.path)
        return page()

    return await serve({"/{n}": handler}), seen


async def test_second_daemon_on_sqlite_is_refused_before_migrating(
    serve: ServeFn, tmp_path: Path
) -> None:
    """While the lock beside pw.db is held, `run` exits 1 with one line naming the holder's
    pid, creates no database and fetches nothing."""
    base, seen = await _shop(serve)
    cfg = daemon_config(tmp_path / "config.yaml", [f"{base}/a"])
    db = tmp_path / "pw.db"
    engine = create_engine(f"sqlite:///{db}")
    try:
        async with daemon_lock(engine):
            result = await asyncio.to_thread(run_cli, cfg)
    finally:
        await engine.dispose()
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: database ")
    assert f"pricewatch pid {os.getpid()} on {socket.gethostname()}" in lines[0]
    assert not db.exists()  # nothing migrated
    assert seen == []


async def test_second_daemon_on_postgres_is_refused_naming_the_holder(
    serve: ServeFn, tmp_path: Path, postgres_url: str
) -> None:
    """With the advisory lock held by another session, `run` on the same PostgreSQL database
    exits 1 with one line naming it, before any table is created."""
    base, seen = await _shop(serve)
    cfg = daemon_config(tmp_path / "config.yaml", [f"{base}/a"], db=postgres_url)
    engine = create_engine(postgres_url)
    try:
        async with daemon_lock(engine):
            result = await asyncio.to_thread(run_cli, cfg)
        async with engine.connect() as conn:
            tables = (await conn.execute(text(
                "SELECT count(*) FROM information_schema.tables "
                "WHERE table_schema = 'public'"))).scalar_one()
    finally:
        await engine.dispose()
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "is in use by pricewatch pid" in lines[0]
    assert tables == 0
    assert seen == []


async def test_lock_is_released_when_its_holder_is_killed(tmp_path: Path) -> None:
    """A holder killed with SIGKILL leaves no stale lock: the next daemon gets it."""
    db = tmp_path / "pw.db"
    holder = subprocess.Popen([sys.executable, "-c", (
        "import asyncio, sys\n"
        "from pricewatch.db.engine import create_engine\n"
        "from pricewatch.db.lock import daemon_lock\n"
        "async def main():\n"
        f"    async with daemon_lock(create_engine('sqlite:///{db}')):\n"
        "        print('held', flush=True)\n"
        "        await asyncio.sleep(60)\n"
        "asyncio.run(main())\n")], stdout=subprocess.PIPE, text=True)
    engine = create_engine(f"sqlite:///{db}")
    try:
        assert holder.stdout is not None
        assert (await asyncio.to_thread(holder.stdout.readline)).strip() == "held"
        with pytest.raises(DatabaseInUse, match=f"pid {holder.pid}"):
            async with daemon_lock(engine):
                pass
        holder.send_signal(signal.SIGKILL)
        holder.wait(10)
        async with daemon_lock(engine):
            pass
    finally:
        if holder.poll() is None:
            holder.kill()
            holder.wait(10)
        if holder.stdout is not None:
            holder.stdout.close()
        await engine.dispose()


async def test_port_in_use_is_one_line(serve: ServeFn, tmp_path: Path) -> None:
    """`run` with server.port taken by another program exits 1 with one line, no traceback,
    and fetches nothing."""
    base, seen = await _shop(serve)
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        cfg = daemon_config(tmp_path / "config.yaml", [f"{base}/a"], port=port)
        result = await asyncio.to_thread(run_cli, cfg)
    assert result.returncode == 1, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"error: cannot listen on 127.0.0.1:{port}: ")
    assert "Traceback" not in result.stderr
    assert seen == []


async def test_postgres_lock_is_taken_again_after_an_outage(postgres_url: str) -> None:
    """The advisory lock's session dies with a database cut; verify() takes the lock again on
    a new session once the database is back, so a second daemon is still refused."""
    from tests.dbproxy import DatabaseProxy

    proxy = DatabaseProxy()
    await proxy.start()
    db_name = postgres_url.rsplit("/", 1)[1]
    engine = create_engine(f"postgresql://postgres@127.0.0.1:{proxy.port}/{db_name}")
    other = create_engine(postgres_url)
    try:
        async with daemon_lock(engine) as lock:
            assert await lock.verify() is None
            await proxy.cut()
            assert await lock.verify() is not None  # cannot tell while the database is away
            await proxy.restore()
            assert await lock.verify() is None
            with pytest.raises(DatabaseInUse):
                async with daemon_lock(other):
                    pass
        async with daemon_lock(other):  # released on leaving
            pass
    finally:
        await engine.dispose()
        await other.dispose()
        await proxy.close()
