"""Throughput and cost, side by side in one run: the tutorial way, Scrapy, pricewatch.

Starts the load shop (its own process, 20 loopback hosts, artificial latency), then runs every
contender ``--runs`` times over the same pages, alternating the order each round so a noisy
neighbour on the shared cores hurts all of them alike, each run in a fresh process. Prints
every run, the medians, the ratios and the targets.

    python -m bench.throughput [--pages 2000] [--runs 3] [--latency 0.1] [--connections 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.harness import Run, Shop, run_contender
from bench.loadshop import url_of

CONTENDERS = {"tutorial": "tutorial", "scrapy": "scrapy_contender",
              "pricewatch": "pricewatch_contender"}
# Projections, run only when asked for by name: pricewatch with the profiled hot spot removed.
WHAT_IF = {"pricewatch-noavail": ("pricewatch_contender", ["--what-if", "no-availability"]),
           "pricewatch-noextract": ("pricewatch_contender", ["--what-if", "no-extract"]),
           # Parsing in the event loop instead of extract_pool's threads.
           "pricewatch-inloop": ("pricewatch_contender", ["--extract-threads", "0"])}


def _median(runs: list[Run], key: Callable[[Run], float]) -> float:
    return statistics.median(key(r) for r in runs)


def summarize(runs: dict[str, list[Run]]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "pages_per_second": _median(rs, lambda r: r.pages_per_second),
            "cpu_ms_per_page": _median(rs, lambda r: r.cpu_ms_per_page),
            "max_rss_mb": _median(rs, lambda r: r.result.max_rss_mb),
            "process_cpu_seconds": _median(rs, lambda r: r.process_cpu_seconds),
            "correct_fraction": min(r.correct / r.result.pages for r in rs),
        }
        for name, rs in runs.items() if rs
    }


def print_report(med: dict[str, dict[str, float]], *, bound: float, args: argparse.Namespace,
                 shop_cpu_ms: float) -> None:
    print(f"\nmedians of {args.runs} runs, {args.pages} pages of ~{args.page_kb} KB, "
          f"{args.hosts} hosts, {args.latency * 1000:.0f} ms latency, "
          f"{args.connections} connections")
    print(f"{'contender':<20}{'pages/s':>9}{'CPU ms/page':>13}{'peak RSS MB':>13}"
          f"{'correct':>9}")
    for name, m in med.items():
        print(f"{name:<20}{m['pages_per_second']:>9.1f}{m['cpu_ms_per_page']:>13.2f}"
              f"{m['max_rss_mb']:>13.1f}{m['correct_fraction']:>9.1%}")
    print(f"latency bound (connections / latency): {bound:.0f} pages/s; "
          f"load shop CPU {shop_cpu_ms:.2f} ms per page served")
    pw = med.get("pricewatch")
    if pw is None:
        return
    rate, cpu = pw["pages_per_second"], pw["cpu_ms_per_page"]
    print(f"pricewatch: {rate / bound:.0%} of the latency bound", end="")
    for other in ("tutorial", "scrapy"):
        if other in med:
            o = med[other]
            print(f"; {rate / o['pages_per_second']:.2f}x {other}'s pages/s, "
                  f"{cpu / o['cpu_ms_per_page']:.2f}x its CPU per page, "
                  f"{pw['max_rss_mb'] / o['max_rss_mb']:.2f}x its RSS", end="")
    print()
    print("targets:")
    _target(f"pages/s >= 90% of the latency bound ({0.9 * bound:.0f})", rate >= 0.9 * bound,
            f"{rate:.0f}")
    if "scrapy" in med:
        ratio = rate / med["scrapy"]["pages_per_second"]
        _target("pages/s >= 2.3x Scrapy", ratio >= 2.3, f"{ratio:.2f}x")
    _target("CPU <= 2 ms per page (fetch + extraction + storage)", cpu <= 2.0, f"{cpu:.2f} ms")


def _target(what: str, met: bool, value: str) -> None:
    print(f"  [{'met ' if met else 'MISS'}] {what}: {value}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--page-kb", type=int, default=200)
    parser.add_argument("--contenders", default=",".join(CONTENDERS),
                        help="comma-separated, from " + ", ".join([*CONTENDERS, *WHAT_IF]))
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = set(names) - set(CONTENDERS) - set(WHAT_IF)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")

    print(f"load average before the run: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} CPUs, shared)")
    runs: dict[str, list[Run]] = {n: [] for n in names}
    with tempfile.TemporaryDirectory(prefix="pricewatch-bench-") as tmp:
        work = Path(tmp)
        log = work / "contenders.log"
        with Shop(hosts=args.hosts, latency=args.latency, page_kb=args.page_kb) as shop:
            urls = work / "urls.txt"
            urls.write_text("\n".join(url_of(i, hosts=args.hosts, port=shop.port)
                                      for i in range(args.pages)) + "\n")
            print(f"{'run':<5}{'contender':<20}{'pages/s':>9}{'CPU ms/page':>13}"
                  f"{'peak RSS MB':>13}{'stored':>8}{'correct':>9}{'process CPU s':>15}")
            for r in range(args.runs):
                order = names[r % len(names):] + names[:r % len(names)]
                for name in order:
                    module, extra = WHAT_IF.get(name, (CONTENDERS.get(name, ""), []))
                    run = run_contender(module, urls=urls, db=work / f"{name}-{r}.db",
                                        connections=args.connections, hosts=args.hosts, log=log,
                                        extra=extra)
                    runs[name].append(run)
                    print(f"{r + 1:<5}{name:<20}{run.pages_per_second:>9.1f}"
                          f"{run.cpu_ms_per_page:>13.2f}{run.result.max_rss_mb:>13.1f}"
                          f"{run.result.stored:>8}{run.correct:>9}"
                          f"{run.process_cpu_seconds:>15.2f}", flush=True)
        served = args.pages * args.runs * len(names)
        shop_cpu_ms = 1000 * shop.cpu_seconds / served
        errors = log.read_text(encoding="utf-8") if log.exists() else ""
    if errors.strip():
        print("contenders' stderr (last lines):\n" + "\n".join(errors.splitlines()[-6:]))
    med = summarize(runs)
    bound = args.connections / args.latency
    print_report(med, bound=bound, args=args, shop_cpu_ms=shop_cpu_ms)
    if args.json:
        args.json.write_text(json.dumps({"medians": med, "bound": bound,
                                         "args": vars(args) | {"json": str(args.json)}},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
