"""The scale run: one round of 100,000 offers against the load shop, on SQLite and Postgres.

Each database gets a fresh pricewatch process (``bench.scale_run``) that loads the same
config.yaml file, as ``pricewatch once`` would against a database it created before (the
schema is migrated here first): a SQLite file in a scratch folder, and a
scratch Postgres database created and dropped here (``PRICEWATCH_DATABASE_URL`` picks it).
Prints sustained pages/s, CPU per page, the process's peak RSS (what the target is judged on:
imports, config loading and the round together; also config loading and the round alone) and
the database's size per stored check.

    python -m bench.scale [--offers 100000] [--latency 0.05] [--databases sqlite,postgres]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

import asyncpg

from bench.harness import ROOT, Shop
from bench.loadshop import url_of
from bench.pricewatch_contender import config_text
from pricewatch.db import migrate
from pricewatch.db.engine import create_engine

SCRATCH_DB = "pricewatch_bench_scale"  # the default of --pg-db


async def _admin(dsn: str, statement: str) -> None:
    conn = await asyncpg.connect(dsn)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


async def _postgres_size(dsn: str) -> dict[str, int]:
    conn = await asyncpg.connect(dsn)
    try:
        row = await conn.fetchrow(
            "SELECT pg_database_size(current_database()) AS db, "
            "pg_total_relation_size('checks') AS checks")
    finally:
        await conn.close()
    assert row is not None
    return {"database_bytes": int(row["db"]), "checks_table_bytes": int(row["checks"])}


def _sqlite_size(path: Path) -> dict[str, int]:
    import sqlite3

    conn = sqlite3.connect(path)
    try:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        try:
            checks = conn.execute(
                "SELECT sum(pgsize) FROM dbstat WHERE name = 'checks' "
                "OR name LIKE 'ix_checks_%'").fetchone()[0]
        except sqlite3.OperationalError:  # built without the dbstat table
            checks = None
    finally:
        conn.close()
    out = {"database_bytes": path.stat().st_size}
    if checks is not None:
        out["checks_table_bytes"] = int(checks)
    return out


def write_config(path: Path, count: int, *, port: int, args: argparse.Namespace) -> Path:
    urls = [url_of(i, hosts=args.hosts, port=port) for i in range(count)]
    path.write_text(config_text(urls, database_url="sqlite:///unused.db",
                                connections=args.connections, hosts=args.hosts))
    return path


async def _migrate(url: str) -> None:
    engine = create_engine(url)
    try:
        await migrate.upgrade(engine)
    finally:
        await engine.dispose()


def run_one(database: str, *, config: Path, work: Path, args: argparse.Namespace
            ) -> dict[str, Any]:
    admin = f"postgresql://{args.pg_user}@{args.pg_host}:{args.pg_port}/postgres"
    if database == "sqlite":
        path = work / "scale.db"
        url = f"sqlite:///{path}"
    else:
        asyncio.run(_admin(admin, f"DROP DATABASE IF EXISTS {args.pg_db}"))
        asyncio.run(_admin(admin, f"CREATE DATABASE {args.pg_db}"))
        url = f"postgresql://{args.pg_user}@{args.pg_host}:{args.pg_port}/{args.pg_db}"
    # The schema is created here, as `pricewatch db upgrade` or a first start would: a watch
    # of 100,000 offers runs against a database it made before, and a start at the newest
    # revision does not load Alembic (11 MB); the first start ever carries it too.
    asyncio.run(_migrate(url))
    try:
        proc = subprocess.Popen(
            [sys.executable, "-m", "bench.scale_run", "--config", str(config)],
            cwd=ROOT, stdout=subprocess.PIPE, text=True,
            env={**os.environ, "PRICEWATCH_DATABASE_URL": url})
        assert proc.stdout is not None
        out = proc.stdout.read()
        proc.wait()
        lines = [ln for ln in out.splitlines() if ln.startswith("RESULT ")]
        if proc.returncode != 0 or not lines:
            raise RuntimeError(f"scale run on {database} failed (exit {proc.returncode})")
        result: dict[str, Any] = json.loads(lines[-1].removeprefix("RESULT "))
        if database == "sqlite":
            result.update(_sqlite_size(path))
        else:
            result.update(asyncio.run(_postgres_size(url.replace("postgresql://", "postgres://"))))
    finally:
        if database == "postgres":
            asyncio.run(_admin(admin, f"DROP DATABASE IF EXISTS {args.pg_db}"))
    return result


def _fit(offers: int, *, port: int, work: Path, args: argparse.Namespace) -> int:
    """As many offers as a pilot round on SQLite says fit in the budget (90% of it)."""
    pilot = min(offers, 2000)
    (work / "pilot").mkdir(exist_ok=True)
    config = write_config(work / "pilot.yaml", pilot, port=port, args=args)
    result = run_one("sqlite", config=config, work=work / "pilot", args=args)
    rate = pilot / result["round_seconds"]
    fit = min(offers, int(rate * args.budget * 0.9) // 1000 * 1000 or pilot)
    print(f"pilot: {pilot} offers at {rate:.0f} pages/s -> {fit} offers fit in "
          f"{args.budget:.0f}s", flush=True)
    return fit


def print_result(database: str, r: dict[str, Any], *, bound: float) -> None:
    rate = r["offers"] / r["round_seconds"]
    per_check = r["database_bytes"] / max(1, r["rows"])
    print(f"{database}: {r['summary']}")
    print(f"  sustained {rate:.1f} pages/s ({rate / bound:.0%} of the latency bound, "
          f"{bound:.0f}), {1000 * r['cpu_seconds'] / r['offers']:.2f} CPU ms/page (workers "
          f"included); {r['rows']} rows stored, {r['dropped']} dropped")
    workers = r.get("worker_peak_rss_mb") or []
    if workers:
        print(f"  extraction workers' peak RSS: {', '.join(f'{w:.0f}' for w in workers)} MB")
    print(f"  peak RSS: process {r['process_peak_rss_mb']:.0f} MB (config loading "
          f"{r['config_peak_rss_mb']:.0f} MB, round alone {r['round_peak_rss_mb']:.0f} MB; "
          f"config took {r['config_seconds']:.1f}s, start-up {r['startup_seconds']:.1f}s)")
    size = f"  database: {r['database_bytes'] / 1e6:.1f} MB, {per_check:.0f} bytes per check"
    if "checks_table_bytes" in r:
        size += (f" ({r['checks_table_bytes'] / max(1, r['rows']):.0f} bytes of checks table "
                 f"and index per check)")
    print(size + " (one round: the offers table is in the total too)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--databases", default="sqlite,postgres")
    parser.add_argument("--pg-host", default="127.0.0.1")
    parser.add_argument("--pg-port", type=int, default=5432)
    parser.add_argument("--pg-user", default="postgres")
    parser.add_argument("--pg-db", default=SCRATCH_DB,
                        help="scratch database, created and dropped (use your own name)")
    parser.add_argument("--budget", type=float, default=600,
                        help="seconds one round may take; fewer offers if a pilot says "
                        "the full count would not fit (0: no pilot)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    results: dict[str, dict[str, Any]] = {}
    print(f"scale run: {args.offers} offers, {args.hosts} hosts, {args.latency * 1000:.0f} ms "
          f"latency, {args.connections} connections (latency bound "
          f"{args.connections / args.latency:.0f} pages/s); load average "
          f"{os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="pricewatch-scale-") as tmp:
        work = Path(tmp)
        with Shop(hosts=args.hosts, latency=args.latency) as shop:
            offers = args.offers
            if args.budget:
                offers = _fit(offers, port=shop.port, work=work, args=args)
            config = write_config(work / "config.yaml", offers, port=shop.port, args=args)
            for database in [d.strip() for d in args.databases.split(",") if d.strip()]:
                try:
                    results[database] = run_one(database, config=config, work=work, args=args)
                except (OSError, asyncpg.PostgresError, RuntimeError) as exc:
                    print(f"{database}: skipped: {exc}", flush=True)
                    continue
                print_result(database, results[database],
                             bound=args.connections / args.latency)
                sys.stdout.flush()
    target = 150
    for database, r in results.items():
        peak = max([r["process_peak_rss_mb"], *(r.get("worker_peak_rss_mb") or [])])
        met = peak <= target
        print(f"target peak RSS <= {target} MB per process at {r['offers']} offers ({database}:"
              f" main {r['process_peak_rss_mb']:.0f} MB, workers "
              f"{', '.join(f'{w:.0f}' for w in r.get('worker_peak_rss_mb') or []) or '-'} MB): "
              f"{'met' if met else 'MISS'}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
