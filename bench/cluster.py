"""Cluster mode against the single-process daemon: checks/s, CPU and database transactions
per check, with 1, 2 and 3 replicas (`pricewatch run --cluster`) and one `pricewatch run`, all
against the load shop, each on a fresh PostgreSQL database.

The schedule asks for more than the machine can do (offers / interval), so checks/s is what
each setup sustains. CPU is the pricewatch processes' own (utime + stime from /proc), over the
measured window; transactions are the database's (pg_stat_database, commits + rollbacks) over
the same window, so they include the engine's polling, heartbeats and planning.

    python -m bench.cluster [--offers 2000] [--interval 5] [--warmup 12] [--window 15]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import asyncpg

from bench.harness import ROOT, Shop
from bench.loadshop import url_of

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
TICK = os.sysconf("SC_CLK_TCK")


def config(urls: list[str], db: str, *, interval: float, cluster: bool) -> str:
    doc: dict[str, object] = {
        "database": {"url": db},
        "workers": 0,
        "schedule": {"interval": f"{interval}s", "jitter": 0, "catch_up_window": "2s",
                     "shutdown_timeout": "2s"},
        "server": {"enabled": False},
        "http": {"concurrency": 50, "per_host_concurrency": 4, "per_host_delay": 0,
                 "obey_robots": False, "retries": {"attempts": 1}},
        "products": [{"id": f"p{i}", "name": f"Product {i}",
                      "offers": [{"url": u, "selector": ".price"}]} for i, u in enumerate(urls)],
    }
    if cluster:
        doc["cluster"] = {"enabled": True, "plan_every": f"{int(interval)}s", "heartbeat": "2s",
                          "stalled_after": "10s", "poll": "0.5s"}
    return json.dumps(doc)


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])
    return total / TICK


async def stats(db: str) -> tuple[int, int]:
    conn = await asyncpg.connect(db)
    try:
        checks = await conn.fetchval("SELECT count(*) FROM checks") \
            if await conn.fetchval("SELECT to_regclass('checks') IS NOT NULL") else 0
        xact = await conn.fetchval("SELECT xact_commit + xact_rollback FROM pg_stat_database "
                                   "WHERE datname = current_database()")
        return int(checks), int(xact)
    finally:
        await conn.close()


def spawn(cmd: list[str], log: Path) -> subprocess.Popen[bytes]:
    with log.open("wb") as out:
        return subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=out)


async def one(name: str, replicas: int, cluster: bool, *, urls: list[str],
              args: argparse.Namespace, scratch: Path) -> dict[str, float]:
    dbname = f"cluster_bench_{name}"
    admin = await asyncpg.connect(ADMIN)
    await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
    await admin.execute(f'CREATE DATABASE "{dbname}"')
    db = f"{ADMIN.rsplit('/', 1)[0]}/{dbname}"
    path = scratch / f"{name}.json"
    path.write_text(config(urls, db, interval=args.interval, cluster=cluster), encoding="utf-8")
    cmd = [sys.executable, "-m", "pricewatch.cli", "run", "-c", str(path)]
    procs = [spawn(cmd, scratch / f"{name}.{i}.log") for i in range(replicas)]
    try:
        await asyncio.sleep(args.warmup)
        pids = [p.pid for p in procs]
        c0, x0 = await stats(db)
        cpu0, t0 = cpu_seconds(pids), time.monotonic()
        await asyncio.sleep(args.window)
        c1, x1 = await stats(db)
        cpu1, t1 = cpu_seconds(pids), time.monotonic()
    finally:
        for p in procs:
            p.terminate()
        for p in procs:
            p.wait(timeout=60)
        await admin.execute(f'DROP DATABASE IF EXISTS "{dbname}" WITH (FORCE)')
        await admin.close()
    checks = max(c1 - c0, 1)
    return {"checks_per_s": checks / (t1 - t0), "cpu_ms_per_check": 1000 * (cpu1 - cpu0) / checks,
            "xact_per_check": (x1 - x0) / checks}


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=2000)
    parser.add_argument("--interval", type=float, default=5.0)
    parser.add_argument("--warmup", type=float, default=12.0)
    parser.add_argument("--window", type=float, default=15.0)
    parser.add_argument("--hosts", type=int, default=20)
    args = parser.parse_args()
    runs = [("single", 1, False), ("cluster1", 1, True), ("cluster2", 2, True),
            ("cluster3", 3, True)]
    results: dict[str, dict[str, float]] = {}
    with Shop(hosts=args.hosts, latency=0.02, page_kb=20) as shop, \
            tempfile.TemporaryDirectory(prefix="cluster-bench-") as tmp:
        urls = [url_of(i, hosts=args.hosts, port=shop.port) for i in range(args.offers)]
        for name, replicas, cluster in runs:
            results[name] = await one(name, replicas, cluster, urls=urls, args=args,
                                      scratch=Path(tmp))
    base = results["single"]
    print(f"{args.offers} offers every {args.interval:g}s (asks {args.offers / args.interval:.0f}"
          f" checks/s), {args.hosts} loopback hosts, {os.cpu_count()} cores")
    print(f"{'setup':10} {'checks/s':>9} {'x single':>9} {'CPU ms/check':>13} "
          f"{'x single':>9} {'xact/check':>11}")
    for name, r in results.items():
        print(f"{name:10} {r['checks_per_s']:9.1f} {r['checks_per_s'] / base['checks_per_s']:9.2f}"
              f" {r['cpu_ms_per_check']:13.2f} "
              f"{r['cpu_ms_per_check'] / base['cpu_ms_per_check']:9.2f} "
              f"{r['xact_per_check']:11.2f}")


if __name__ == "__main__":
    asyncio.run(main())
