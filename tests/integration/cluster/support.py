"""Cluster tests' helpers: a database of our own, replicas as subprocesses, a shop that logs
every request, and the rows the replicas stored."""

from __future__ import annotations

import asyncio
import re
import signal
import subprocess
import sys
import time
from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
from aiohttp import web

from tests.conftest import scratch_postgres

CLUSTER = ("cluster: {enabled: true, plan_every: 2s, heartbeat: 0.5s, stalled_after: 2s, "
           "poll: 0.2s}")
# A dead replica's job goes back to the queue once its heartbeat is stalled_after old, at the
# next once-a-second sweep, and is fetched within a poll: the bound the tests hold it to.
RETRY_BOUND = 2.0 + 1.0 + 0.2 + 1.0  # + one second for the sweep's own job to be fetched


def cluster_database(prefix: str = "cluster_test") -> AbstractAsyncContextManager[str]:
    """An empty PostgreSQL database named ``prefix``_*, dropped afterwards."""
    return scratch_postgres(prefix)


@dataclass
class Shop:
    """Every request: (host, path, start, end), times from time.time(); ``slow`` paths take
    ``slow_for`` seconds the first time they are asked for."""

    requests: list[tuple[str, str, float, float]] = field(default_factory=list)
    slow: set[str] = field(default_factory=set)
    slow_for: float = 6.0
    started: dict[str, list[tuple[float, int]]] = field(default_factory=dict)  # path -> (t, port)

    async def handle(self, request: web.Request) -> web.Response:
        start = time.time()
        path = request.path
        peer = request.transport.get_extra_info("peername") if request.transport else None
        self.started.setdefault(path, []).append((start, int(peer[1]) if peer else 0))
        if path in self.slow:
            self.slow.discard(path)
            await asyncio.sleep(self.slow_for)
        price = "5.00" if path.startswith("/cheap") else "12.34"
        response = web.Response(
            text=f'<html><h1>Thing</h1><span class="price">${price}</span></html>',
            content_type="text/html")
        self.requests.append((request.host.split(":")[0], path, start, time.time()))
        return response


def cluster_config(path: Path, db: str, urls: Sequence[str], *, extra: str = "",
                   intervals: Sequence[str] = (), ids: Sequence[str] = ()) -> Path:
    """One product per URL (ids p0, p1, ..., or ``ids``); ``intervals``: the first offers'
    own."""
    lines = [f'database: {{url: "{db}"}}', CLUSTER,
             "schedule: {interval: 2s, jitter: 0, shutdown_timeout: 1s}",
             "server: {host: 127.0.0.1, port: 0}",
             "workers: 0",
             "http: {per_host_delay: 0.3s, per_host_concurrency: 1, obey_robots: false, "
             "retries: {attempts: 1}}"]
    if extra:
        lines.append(extra.rstrip("\n"))
    lines.append("products:")
    for i, url in enumerate(urls):
        pid = ids[i] if i < len(ids) else f"p{i}"
        lines += [f"  - id: {pid}", f"    name: Product {pid}", "    offers:",
                  f"      - url: {url}", '        selector: ".price"']
        if i < len(intervals):
            lines.append(f"        interval: {intervals[i]}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


class Replicas:
    """Replicas of one config as subprocesses, each logging to its own file."""

    def __init__(self, config: Path, count: int, *, configs: Sequence[Path] = ()) -> None:
        """``configs``: a file per replica (a ConfigMap reaches pods at different times)."""
        self.configs = list(configs) or [config] * count
        self.logs = [config.parent / f"replica{i}.log" for i in range(count)]
        self.procs: list[subprocess.Popen[bytes]] = []

    def start(self) -> None:
        for log, config in zip(self.logs, self.configs, strict=True):
            with log.open("wb") as out:
                self.procs.append(subprocess.Popen(
                    [sys.executable, "-m", "pricewatch.cli", "run", "-c", str(config),
                     "--cluster"], stdout=out, stderr=subprocess.STDOUT))

    def text(self, i: int) -> str:
        return self.logs[i].read_text(encoding="utf-8", errors="replace")

    def count(self, pattern: str) -> int:
        return sum(len(re.findall(pattern, self.text(i))) for i in range(len(self.logs)))

    def pid_of_client_port(self, port: int) -> int | None:
        """The replica whose socket has this local port (``ss`` names the owner)."""
        out = subprocess.run(["ss", "-Htnp", f"sport = :{port}"], capture_output=True,
                             text=True, check=False).stdout
        for proc in self.procs:
            if f"pid={proc.pid}," in out:
                return proc.pid
        return None

    def stop(self) -> list[int]:
        for proc in self.procs:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        codes = []
        for proc in self.procs:
            try:
                codes.append(proc.wait(timeout=30))
            except subprocess.TimeoutExpired:
                proc.kill()
                codes.append(proc.wait())
        return codes


async def slot_rows(db: str) -> list[tuple[str, int, str]]:
    """(offer key, slot, outcome) of every stored check."""
    conn = await asyncpg.connect(db)
    try:
        if await conn.fetchval("SELECT to_regclass('checks') IS NULL"):
            return []  # not migrated yet
        return [(r[0], r[1], r[2]) for r in await conn.fetch(
            "SELECT o.key, c.slot, c.outcome FROM checks c JOIN offers o ON o.id = c.offer_id "
            "ORDER BY o.key, c.slot")]
    finally:
        await conn.close()


def per_offer(rows: Sequence[tuple[str, int, str]]) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    for key, slot, _ in rows:
        out.setdefault(key, []).append(slot)
    return out


def max_overlap(spans: Sequence[tuple[float, float]]) -> int:
    """The most requests in flight at once."""
    events = sorted([(s, 1) for s, _ in spans] + [(e, -1) for _, e in spans])
    now = peak = 0
    for _, step in events:
        now += step
        peak = max(peak, now)
    return peak
