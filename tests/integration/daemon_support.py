"""Helpers for in-process daemon tests: a config writer, a page handler, row counts."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

from aiohttp import web

from pricewatch import config
from pricewatch.runtime.daemon import Daemon


def page(price: str = "12.34") -> web.Response:
    return web.Response(text=f'<html><h1>Thing</h1><span class="price">${price}</span></html>',
                        content_type="text/html")


def daemon_config(path: Path, urls: Sequence[str], *, port: int = 0, interval: str = "1s",
                  extra: str = "", http: str = "", db: str = "sqlite:///pw.db") -> Path:
    """A config with one product per URL (ids p0, p1, ...), prices read by selector."""
    lines = [f'database: {{url: "{db}"}}',
             f"schedule: {{interval: {interval}, catch_up_window: 1s, jitter: 0, "
             "shutdown_timeout: 1s}",
             f"server: {{host: 127.0.0.1, port: {port}}}",
             f"http: {{per_host_delay: 0s, obey_robots: false, retries: {{attempts: 1}}{http}}}"]
    if extra:
        lines.append(extra.rstrip("\n"))
    lines.append("products:" if urls else "products: []")
    for i, url in enumerate(urls):
        lines += [f"  - id: p{i}", f"    name: Product {i}", "    offers:",
                  f"      - url: {url}", '        selector: ".price"']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@asynccontextmanager
async def running(path: Path) -> AsyncIterator[Daemon]:
    """A daemon from ``path``, in this process and without signal handlers, stopped after."""
    daemon = Daemon(config.load(path, environ={}), handle_signals=False)
    task = asyncio.create_task(daemon.run())
    try:
        yield daemon
    finally:
        daemon.stop()
        await asyncio.wait_for(task, 60)


def rows(db: Path) -> list[tuple[str, str]]:
    """(offer key, outcome) of every stored check."""
    if not db.exists():
        return []
    try:
        with sqlite3.connect(db) as conn:
            return conn.execute(
                "SELECT o.key, c.outcome FROM checks c JOIN offers o ON o.id = c.offer_id"
            ).fetchall()
    except sqlite3.OperationalError:  # not migrated yet
        return []
