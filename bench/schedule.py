"""Scheduler benchmark (issue 5): 10,000 offers on one interval against the local demo shop.

Runs the real daemon in this process (the shop runs in a child process, so RSS and CPU are the
daemon's own) and reports: scheduler lag p50/p99, how evenly checks spread over the interval
(max checks in any 1 % slice vs the mean), peak RSS and CPU per check.

    python bench/schedule.py [--offers 10000] [--interval 120]
"""

from __future__ import annotations

import argparse
import asyncio
import multiprocessing
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def run_shop(port: int, size: int, ready: multiprocessing.synchronize.Event) -> None:
    from aiohttp import web

    from pricewatch.demo.shop import make_app

    async def main() -> None:
        runner = web.AppRunner(make_app(size=size), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", port, backlog=1024).start()
        ready.set()
        await asyncio.Event().wait()

    asyncio.run(main())


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def write_config(path: Path, base: str, offers: int, interval: int, metrics_port: int) -> None:
    from pricewatch.demo.catalog import catalog

    lines = ["database:", f"  url: sqlite:///{path.parent / 'bench.db'}",
             "schedule:", f"  interval: {interval}s", "  catch_up_window: 20s",
             "  jitter: 0.02", "server:", f"  port: {metrics_port}",
             "http:", "  concurrency: 100", "  per_host_concurrency: 100",
             "  per_host_delay: 0s", "  obey_robots: false", "products:"]
    for p in catalog(offers):
        lines += [f"  - id: {p.id}", f"    name: {p.name}", "    offers:",
                  f"      - url: {base}{p.path}", '        selector: ".price, [itemprop=price]"',
                  "        fallback: auto"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


async def measure(config_path: Path, interval: int) -> dict[str, float]:
    from pricewatch import config
    from pricewatch.runtime import daemon, recorder, schedule

    lags: list[float] = []
    starts: list[float] = []

    class Recording(schedule.Scheduler):
        def __init__(self, *args, **kwargs):  # type: ignore[no-untyped-def]
            kwargs["on_lag"] = lags.append
            super().__init__(*args, **kwargs)

    daemon.Scheduler = Recording  # type: ignore[attr-defined]
    settings = config.load(config_path)
    d = daemon.Daemon(settings, handle_signals=False)
    original = recorder.Recorder.record

    def record(self, offer, result, **kwargs):  # type: ignore[no-untyped-def]
        starts.append(result.check.observed_at.timestamp())
        original(self, offer, result, **kwargs)

    recorder.Recorder.record = record  # type: ignore[method-assign]
    cpu0 = time.process_time()
    t0 = time.time()
    task = asyncio.create_task(d.run())
    # The catch-up window (20 s) checks every new offer once; then one full interval of
    # regular slots is measured.
    await asyncio.sleep(20 + interval * 0.55)
    window_start = time.time()
    lag_mark = len(lags)
    await asyncio.sleep(interval)
    window_end = time.time()
    cpu = time.process_time() - cpu0
    d.stop()
    await task
    total_checks = len(starts)
    regular = [s for s in starts if window_start <= s < window_end]
    slices = [0] * 100
    for s in regular:
        slices[min(99, int((s - window_start) / interval * 100))] += 1
    mean = statistics.mean(slices)
    steady_lags = sorted(lags[lag_mark:]) or [0.0]
    return {
        "checks": total_checks,
        "wall": time.time() - t0,
        "regular_checks_in_window": len(regular),
        "lag_p50_ms": steady_lags[len(steady_lags) // 2] * 1000,
        "lag_p99_ms": steady_lags[int(len(steady_lags) * 0.99)] * 1000,
        "lag_max_ms": steady_lags[-1] * 1000,
        "spread_max_over_mean": max(slices) / mean if mean else float("nan"),
        "spread_min_over_mean": min(slices) / mean if mean else float("nan"),
        "cpu_ms_per_check": cpu / total_checks * 1000 if total_checks else float("nan"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--offers", type=int, default=10_000)
    parser.add_argument("--interval", type=int, default=120, help="seconds")
    args = parser.parse_args()
    port = free_port()
    ready = multiprocessing.Event()
    shop = multiprocessing.Process(target=run_shop, args=(port, args.offers, ready), daemon=True)
    shop.start()
    ready.wait(30)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "config.yaml"
            write_config(path, f"http://127.0.0.1:{port}", args.offers, args.interval,
                         free_port())
            result = asyncio.run(measure(path, args.interval))
    finally:
        shop.terminate()
    print(f"scheduler benchmark: {args.offers} offers, interval {args.interval}s")
    for key, value in result.items():
        print(f"  {key:28s} {value:10.2f}")
    ideal = args.offers / args.interval
    print(f"  (ideal rate {ideal:.1f} checks/s; spread 1.00 = perfectly even)")


if __name__ == "__main__":
    main()
