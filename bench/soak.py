"""The soak run (issue 13): the daemon for a few minutes against ten hostile loopback shops.

`pricewatch run` runs as a child process on a scratch PostgreSQL database reached through a TCP
proxy this script controls. Ten shops on 127.0.0.10-19, one fault each (the rest good):

    slow (10 s a page)  429s  timeouts  garbage bytes  absurd prices  captcha  good x4

During the run: the database is cut (connections reset and refused) for ``--cut`` seconds, the
config is reloaded with offers removed and added (SIGHUP), and the run ends with SIGTERM.
Prints checks scheduled vs stored per host, wrong prices, lost checks, RSS at start and end,
the mean gap between an offer's checks against the interval, and the daemon's skip counters.

    python -m bench.soak [--offers 2000] [--interval 60] [--minutes 4] [--cut 20]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import itertools
import json
import os
import random
import re
import signal
import statistics
import sys
import tempfile
import time
import uuid
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import aiohttp
import asyncpg
from aiohttp import web

ROOT = Path(__file__).resolve().parents[1]
ADMIN_DSN = os.environ.get("PRICEWATCH_TEST_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
FAULTS = ["slow", "429", "timeout", "garbage", "absurd", "captcha", "good", "good", "good",
          "good"]
ABSURD = ["$-5.00", "-5", '{"@type": "Offer", "price": "-5", "priceCurrency": "USD"}', "$1e308",
          '{"@type": "Offer", "price": "1e308", "priceCurrency": "USD"}',
          "$100000000000000.00"]


def true_price(n: int) -> Decimal:
    return Decimal(n % 997 + 1) + Decimal("0.99")


def html(body: str) -> web.Response:
    return web.Response(text=f"<html><head><title>Item</title></head><body><h1>Item</h1>"
                             f"{body}</body></html>", content_type="text/html")


class Shops:
    """Ten aiohttp servers, one per loopback address, each with its fault."""

    def __init__(self) -> None:
        self.runners: list[web.AppRunner] = []
        self.bases: list[str] = []
        self.requests: defaultdict[str, int] = defaultdict(int)
        self.rng = random.Random(13)

    async def start(self) -> None:
        for i, fault in enumerate(FAULTS):
            app = web.Application()
            app.router.add_get("/p/{n}", self._handler(fault))
            runner = web.AppRunner(app, access_log=None, handler_cancellation=True)
            await runner.setup()
            host = f"127.0.0.{10 + i}"
            site = web.TCPSite(runner, host, 0)
            await site.start()
            self.runners.append(runner)
            self.bases.append(f"http://{host}:{runner.addresses[0][1]}")

    def _handler(self, fault: str):  # type: ignore[no-untyped-def]
        counter = 0

        async def handle(request: web.Request) -> web.StreamResponse:
            nonlocal counter
            counter += 1
            self.requests[fault] += 1
            n = int(request.match_info["n"])
            good = html(f'<span class="price">${true_price(n)}</span>')
            if fault == "slow":
                await asyncio.sleep(10)
                return good
            if fault == "429" and counter % 3 == 0:
                return web.Response(status=429, headers={"Retry-After": "1"})
            if fault == "timeout" and counter % 4 == 0:
                await asyncio.sleep(30)
            if fault == "garbage":
                return web.Response(body=self.rng.randbytes(4000), content_type="text/html")
            if fault == "absurd":
                page = ABSURD[n % len(ABSURD)]
                if page.startswith("{"):
                    return html(f'<script type="application/ld+json">{page}</script>')
                return html(f'<span class="price">{page}</span>')
            if fault == "captcha":
                return web.Response(text="<html><title>Are you a robot?</title>captcha</html>",
                                    content_type="text/html")
            return good

        return handle

    async def close(self) -> None:
        for runner in self.runners:
            await runner.cleanup()


class Proxy:
    """A TCP proxy to PostgreSQL that can be cut (reset and refuse) and restored."""

    def __init__(self) -> None:
        self.port = 0
        self._server: asyncio.Server | None = None
        self._pipes: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", 5432)
        except OSError:
            writer.close()
            return
        self._pipes |= {writer, up_writer}

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(OSError, asyncio.CancelledError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))
        self._pipes -= {writer, up_writer}

    async def cut(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        for pipe in list(self._pipes):
            pipe.transport.abort()
        self._pipes.clear()


def config_text(db_url: str, port: int, bases: list[str], offers: Iterable[int],
                interval: int) -> str:
    lines = [f"database: {{url: '{db_url}'}}",
             f"schedule: {{interval: {interval}s, jitter: 0.1, catch_up_window: 30s, "
             "shutdown_timeout: 5s}",
             f"server: {{host: 127.0.0.1, port: {port}}}",
             "http: {per_host_delay: 0.05s, obey_robots: false, "
             "timeouts: {total: 5s, read: 5s}, retries: {attempts: 2}}",
             "products:"]
    for n in offers:
        base = bases[n % len(bases)]
        lines += [f"  - id: p{n}", f"    name: Product {n}", "    offers:",
                  f"      - url: {base}/p/{n}"]
        if n % 2:
            lines.append('        selector: ".price"')
        if base == bases[0]:  # the slow shop answers, slowly: a timeout is not its fault
            lines.append("        timeouts: {total: 30s, read: 30s}")
    return "\n".join(lines) + "\n"


def rss_kb(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    return 0


async def metrics(port: int) -> str:
    async with aiohttp.ClientSession() as s, s.get(f"http://127.0.0.1:{port}/metrics") as r:
        return await r.text()


def metric_sum(text: str, name: str, **labels: str) -> float:
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        if all(f'{k}="{v}"' in head for k, v in labels.items()):
            total += float(value)
    return total


async def wait_ready(port: int, within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, OSError):
            async with aiohttp.ClientSession() as s, s.get(
                    f"http://127.0.0.1:{port}/readyz") as r:
                if r.status == 200:
                    return
        await asyncio.sleep(0.5)
    raise SystemExit("daemon not ready")


async def main(args: argparse.Namespace) -> None:
    name = f"pw_runtime_soak_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(ADMIN_DSN)
    await admin.execute(f'CREATE DATABASE "{name}"')
    shops, proxy = Shops(), Proxy()
    await shops.start()
    await proxy.start()
    work = Path(tempfile.mkdtemp(prefix="pw-soak-"))
    port = 19000 + os.getpid() % 1000
    base_dsn = ADMIN_DSN.rsplit("/", 1)[0]
    url = f"postgresql://postgres@127.0.0.1:{proxy.port}/{name}"
    cfg = work / "config.yaml"
    first = range(args.offers)
    cfg.write_text(config_text(url, port, shops.bases, first, args.interval))
    log_path = work / "daemon.log"
    log = log_path.open("w")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pricewatch.cli", "run", "-c", str(cfg), "--log-level", "info",
        stdout=log, stderr=asyncio.subprocess.STDOUT, cwd=work, env=env)
    timeline: list[str] = []
    try:
        await wait_ready(port, 120)
        t0 = time.monotonic()
        wall0 = time.time()
        rss_start = rss_kb(proc.pid)
        duration = args.minutes * 60

        async def at(seconds: float) -> None:
            await asyncio.sleep(max(0.0, t0 + seconds - time.monotonic()))

        await at(duration * 0.3)
        await proxy.cut()
        timeline.append(f"{time.monotonic() - t0:.0f}s database cut")
        await asyncio.sleep(args.cut)
        await proxy.start()
        timeline.append(f"{time.monotonic() - t0:.0f}s database back")
        await at(duration * 0.55)
        # Reload: the last 20 offers go, 20 new ones come.
        second = [*range(args.offers - 20), *range(args.offers, args.offers + 20)]
        cfg.write_text(config_text(url, port, shops.bases, second, args.interval))
        proc.send_signal(signal.SIGHUP)
        timeline.append(f"{time.monotonic() - t0:.0f}s reload (-20 +20 offers)")
        await at(duration)
        text = await metrics(port)
        rss_end = rss_kb(proc.pid)
        stop = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        code = await asyncio.wait_for(proc.wait(), 120)
        timeline.append(f"{time.monotonic() - t0:.0f}s SIGTERM -> exit {code} in "
                        f"{time.monotonic() - stop:.1f}s")
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.wait()
        log.close()
        await proxy.cut()
        await shops.close()
    elapsed = stop - t0
    conn = await asyncpg.connect(f"{base_dsn}/{name}")
    try:
        rows = await conn.fetch("SELECT o.url, c.outcome, c.price::text AS price, c.observed_at "
                                "FROM checks c JOIN offers o ON o.id = c.offer_id")
    finally:
        await conn.close()
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()
    report(args, rows, shops, Run(text, log_path, timeline, elapsed, rss_start, rss_end,
                                  wall0))


@dataclass
class Run:
    metrics: str  # /metrics just before SIGTERM
    log_path: Path
    timeline: list[str]
    elapsed: float
    rss_start: int  # kB
    rss_end: int
    wall0: float  # Unix time the daemon was ready (≈ when it planned its slots)


def scheduled(args: argparse.Namespace, shops: Shops, run: Run) -> dict[str, int]:
    """Per offer URL: the runs the daemon's own planner gives it from start to SIGTERM (its
    catch-up run and the regular slots), for offers configured the whole time."""
    from datetime import UTC, datetime

    from pricewatch.runtime.schedule import Due, plan

    keys = {f"p{n}@127.0.0.{10 + n % 10}": f"{shops.bases[n % 10]}/p/{n}"
            for n in range(args.offers - 20)}  # the last 20 were removed by the reload
    start = datetime.fromtimestamp(run.wall0, UTC)
    dues = [Due(f"p{n}@127.0.0.{10 + n % 10}", float(args.interval))
            for n in range(args.offers)]
    end = run.wall0 + run.elapsed
    out: dict[str, int] = {}
    for p in plan(dues, start, catch_up_window=30.0):
        if p.key not in keys:
            continue
        first = p.start.timestamp()
        slots = 0 if first > end else int((end - first) // args.interval) + 1
        out[keys[p.key]] = slots + (1 if p.catch_up is not None else 0)
    return out


def report(args: argparse.Namespace, rows: list[asyncpg.Record], shops: Shops, run: Run) -> None:
    text, log_path, timeline, elapsed = run.metrics, run.log_path, run.timeline, run.elapsed
    rss_start, rss_end = run.rss_start, run.rss_end
    host_fault = {b.split("//")[1].split(":")[0]: f for b, f in zip(shops.bases, FAULTS,
                                                                     strict=True)}
    per_offer: defaultdict[str, list[asyncpg.Record]] = defaultdict(list)
    for row in rows:
        per_offer[row["url"]].append(row)
    by_host: defaultdict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    wrong: list[str] = []
    gaps: list[float] = []
    for offer_url, checks in per_offer.items():
        host = offer_url.split("//")[1].split(":")[0]
        fault = host_fault[host]
        n = int(offer_url.rsplit("/", 1)[1])
        for c in checks:
            by_host[f"{host} {fault}"][c["outcome"]] += 1
            if c["outcome"] == "ok":
                ok_price = fault not in ("absurd", "garbage", "captcha")
                if not ok_price or Decimal(c["price"]) != true_price(n):
                    wrong.append(f"{fault} {offer_url}: {c['price']}")
        times = sorted(c["observed_at"] for c in checks if c["outcome"] != "cancelled")
        if fault in ("good", "429", "timeout", "captcha", "garbage", "absurd") and len(times) > 2:
            # The first gap runs from the catch-up run to the first regular slot: skip it.
            gaps.extend((b - a).total_seconds() for a, b in itertools.pairwise(times[1:]))
    planned = scheduled(args, shops, run)
    print(f"soak: {args.offers} offers on 10 hosts, interval {args.interval}s, jitter 0.1, "
          f"{elapsed:.0f}s run")
    for line in timeline:
        print(f"  {line}")
    print("per host, offers configured throughout: checks scheduled and stored per offer "
          "(mean, and the fewest stored); outcomes of all its rows")
    print(f"{'host':<24}{'offers':>7}{'scheduled':>10}{'stored':>8}{'min':>5}  outcomes")
    per_host: defaultdict[str, list[tuple[int, int]]] = defaultdict(list)
    for offer_url, want in planned.items():
        host = offer_url.split("//")[1].split(":")[0]
        per_host[f"{host} {host_fault[host]}"].append((want, len(per_offer.get(offer_url, []))))
    for key in sorted(per_host):
        pairs = per_host[key]
        outcomes = ", ".join(f"{o} {n}" for o, n in sorted(by_host[key].items()))
        print(f"{key:<24}{len(pairs):>7}{statistics.mean(w for w, _ in pairs):>10.2f}"
              f"{statistics.mean(s for _, s in pairs):>8.2f}{min(s for _, s in pairs):>5}  "
              f"{outcomes}")
    summary = [line for line in log_path.read_text().splitlines() if "shutdown after" in line]
    last = summary[-1] if summary else "(no shutdown line)"
    made = re.search(r": (\d+) checks \(", last)
    lost_line = re.search(r"(\d+) rows written, (\d+) lost", last)
    print(f"rows stored: {len(rows)}; checks made (daemon summary): "
          f"{made.group(1) if made else '?'}; lost: "
          f"{int(made.group(1)) - len(rows) if made else '?'} "
          f"(writer: {lost_line.group(2) if lost_line else '?'} dropped)")
    print(f"wrong prices stored: {len(wrong)}")
    for w in wrong[:8]:
        print(f"  {w}")
    dropped = "pricewatch_scheduler_dropped_runs_total"
    print(f"skipped: host_backlog "
          f"{metric_sum(text, 'pricewatch_checks_skipped_total', reason='host_backlog'):.0f}, "
          f"overlap {metric_sum(text, dropped, reason='overlap'):.0f}, "
          f"misfire {metric_sum(text, dropped, reason='misfire'):.0f}")
    lag_n = metric_sum(text, "pricewatch_scheduler_lag_seconds_count")
    if lag_n:
        lag = metric_sum(text, "pricewatch_scheduler_lag_seconds_sum") / lag_n
        print(f"scheduler lag (slot to job start, the event loop's lateness): mean {lag:.2f}s")
    if gaps:
        print(f"mean gap {statistics.mean(gaps):.2f}s vs interval {args.interval}s "
              f"(median {statistics.median(gaps):.2f}s, {len(gaps)} gaps)")
    print(f"RSS start {rss_start / 1024:.0f} MB, end {rss_end / 1024:.0f} MB")
    tracebacks = log_path.read_text().count("Traceback")
    print(f"tracebacks in the daemon log: {tracebacks}; last line: {last[-160:]}")
    print(json.dumps({"requests": dict(shops.requests)}))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=2000)
    parser.add_argument("--interval", type=int, default=60)
    parser.add_argument("--minutes", type=float, default=4.0)
    parser.add_argument("--cut", type=float, default=20.0)
    asyncio.run(main(parser.parse_args()))
