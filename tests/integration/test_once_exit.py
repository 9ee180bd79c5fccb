"""`pricewatch once` ends its process without the interpreter's teardown, and loses nothing."""

from __future__ import annotations

import asyncio
import os
import sqlite3
import sys
from pathlib import Path

from tests.conftest import ServeFn
from tests.integration.test_once import shop_config, start_shop


async def test_once_process_exit_keeps_output_rows_and_code(
    serve: ServeFn, free_port: int, tmp_path: Path
) -> None:
    """With block-buffered pipes (no PYTHONUNBUFFERED), the summary still reaches stdout, the
    failure line stderr, every row the database, and the exit code says some checks failed."""
    base = await start_shop(serve)
    path = tmp_path / "config.yaml"
    path.write_text(shop_config(base, free_port, "sqlite:///pw.db"), encoding="utf-8")
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pricewatch", "once", "-c", str(path), env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 3, err.decode()
    assert "6 checks in" in out.decode()
    assert "6 rows written" in out.decode()
    assert "checks failed (" in err.decode()
    conn = sqlite3.connect(tmp_path / "pw.db")
    try:
        assert conn.execute("SELECT count(*) FROM checks").fetchone()[0] == 6
    finally:
        conn.close()
