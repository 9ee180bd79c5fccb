"""The daemon's memory with N offers on its schedule (default 100,000), against the load shop.

Writes a config of N offers (one product each, hourly, on 20 loopback hosts), starts
``pricewatch run`` on it as a user would (fresh SQLite database: migrations, catalogue sync and
the first schedule of every offer included), waits for "pricewatch running", lets it check for
``--settle`` seconds, then reads VmHWM (peak) and VmRSS (now) of the daemon and of each of its
extraction worker processes from /proc, and stops it with SIGTERM.

    python -m bench.daemon_memory [--offers 100000] [--settle 20] [--workers N]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from bench.harness import ROOT, Shop
from bench.loadshop import url_of
from bench.pricewatch_contender import config_text

TARGET_MB = 200


def status(pid: int) -> dict[str, float]:
    """VmHWM and VmRSS of one process, in MB."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmHWM", "VmRSS"):
            out[name] = int(value.split()[0]) / 1024
    return out


def _offers_checked(db: Path) -> int:
    """Offers with at least one stored check (read after the daemon stopped)."""
    with contextlib.closing(sqlite3.connect(db)) as conn:
        return int(conn.execute("SELECT count(DISTINCT offer_id) FROM checks").fetchone()[0])


def children(pid: int) -> list[int]:
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(p) for p in text.split()]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=100_000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.05)
    parser.add_argument("--settle", type=float, default=20.0,
                        help="seconds of checking after start-up before reading memory")
    parser.add_argument("--workers", type=int, help="the config's workers (default: per core)")
    parser.add_argument("--catch-up", default="10m",
                        help="schedule.catch_up_window: a short one with a long --settle "
                        "shows the memory once every offer has been checked")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    print(f"daemon memory: {args.offers} offers; load average "
          f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}", flush=True)
    with tempfile.TemporaryDirectory(prefix="pricewatch-daemon-mem-") as tmp, \
            Shop(hosts=args.hosts, latency=args.latency) as shop:
        work = Path(tmp)
        urls = [url_of(i, hosts=args.hosts, port=shop.port) for i in range(args.offers)]
        config = json.loads(config_text(urls, database_url=f"sqlite:///{work / 'pw.db'}",
                                        connections=50, hosts=args.hosts))
        config["server"] = {"port": 0}
        config["schedule"] = {"interval": "1h", "catch_up_window": args.catch_up}
        if args.workers is not None:
            config["workers"] = args.workers
        path = work / "config.yaml"
        path.write_text(json.dumps(config))
        started = time.perf_counter()
        proc = subprocess.Popen([sys.executable, "-m", "pricewatch", "run", "-c", str(path)],
                                cwd=ROOT, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL,
                                text=True)
        assert proc.stderr is not None
        running = threading.Event()
        tail: list[str] = []

        def read() -> None:
            assert proc.stderr is not None
            for line in proc.stderr:
                tail.append(line.rstrip())
                del tail[:-20]
                if "pricewatch running" in line:
                    running.set()

        threading.Thread(target=read, daemon=True).start()
        try:
            if not running.wait(timeout=600):
                raise RuntimeError("daemon did not start:\n" + "\n".join(tail))
            startup = time.perf_counter() - started
            after_start = status(proc.pid)
            time.sleep(args.settle)
            main_mem = status(proc.pid)
            workers = {pid: status(pid) for pid in children(proc.pid)}
            summaries = [line for line in tail if "last 60s:" in line]
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        checked = _offers_checked(work / "pw.db")
    print(f"start-up (to 'pricewatch running'): {startup:.1f}s; at that moment VmHWM "
          f"{after_start['VmHWM']:.0f} MB, VmRSS {after_start['VmRSS']:.0f} MB")
    print(f"after {args.settle:.0f}s of checks: daemon VmHWM {main_mem['VmHWM']:.0f} MB, "
          f"VmRSS {main_mem['VmRSS']:.0f} MB; {checked} of {args.offers} offers checked by "
          "then (the daemon keeps each checked offer's last checks: a short --catch-up and a "
          "long --settle show the fully checked catalogue)")
    if summaries:
        print(f"  the daemon's last minute: {summaries[-1].split('last 60s:', 1)[1].strip()}")
    for pid, mem in workers.items():
        print(f"  worker {pid}: VmHWM {mem['VmHWM']:.0f} MB, VmRSS {mem['VmRSS']:.0f} MB")
    total = main_mem["VmRSS"] + sum(m["VmRSS"] for m in workers.values())
    print(f"  all processes now: {total:.0f} MB RSS (shared pages counted in each)")
    met = main_mem["VmHWM"] <= TARGET_MB
    print(f"target daemon peak RSS <= {TARGET_MB} MB at {args.offers} offers: "
          f"{'met' if met else 'MISS'} ({main_mem['VmHWM']:.0f} MB)")
    if args.json:
        args.json.write_text(json.dumps({"startup_seconds": startup, "daemon": main_mem,
                                         "at_start": after_start, "workers": workers}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
