"""Throughput and cost, side by side in one run: the tutorial way, Scrapy, pricewatch.

Starts the load shop (its own process, 20 loopback hosts, artificial latency) once per page
style (``plain``: large blocks; ``dense``: thousands of small elements per page), then runs
every contender ``--runs`` times over the same pages, alternating the order each round so a
noisy neighbour on the shared cores hurts all of them alike, each run in a fresh process.

Two views of every run: *in-process*, the timed phase each contender reports about itself
(first request to last commit), and *whole process*, what ``wait4`` (and so ``/usr/bin/time``)
sees from spawn to exit: imports, config, migrations and exit included. The ``once`` contender
is ``pricewatch once`` itself on a config file, measured only from outside. Prints every run,
the medians, the ratios against Scrapy and the targets.

    python -m bench.throughput [--pages 2000] [--runs 3] [--latency 0.1] [--connections 50]
                               [--styles plain,dense]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from bench.harness import Run, Shop, run_contender
from bench.loadshop import STYLES, url_of

CONTENDERS = {"tutorial": "tutorial", "scrapy": "scrapy_contender",
              "pricewatch": "pricewatch_contender", "once": "once_contender"}
# Projections, run only when asked for by name: pricewatch with the profiled hot spot removed.
WHAT_IF = {"pricewatch-noavail": ("pricewatch_contender", ["--what-if", "no-availability"]),
           "pricewatch-noextract": ("pricewatch_contender", ["--what-if", "no-extract"]),
           # The single-process engine (extraction threads), for the comparison with workers.
           "once-threads": ("once_contender", ["--workers", "0"])}
DEFAULT = "tutorial,scrapy,pricewatch,once"


def _median(runs: list[Run], key: Callable[[Run], float]) -> float:
    return statistics.median(key(r) for r in runs)


def summarize(runs: dict[str, list[Run]]) -> dict[str, dict[str, float]]:
    return {
        name: {
            "pages_per_second": _median(rs, lambda r: r.pages_per_second),
            "cpu_ms_per_page": _median(rs, lambda r: r.cpu_ms_per_page),
            "max_rss_mb": _median(rs, lambda r: r.result.max_rss_mb),
            "whole_pages_per_second": _median(rs, lambda r: r.whole_pages_per_second),
            "whole_cpu_ms_per_page": _median(rs, lambda r: r.whole_cpu_ms_per_page),
            "whole_max_rss_mb": _median(rs, lambda r: r.whole_max_rss_mb),
            "process_cpu_seconds": _median(rs, lambda r: r.process_cpu_seconds),
            "correct_fraction": min(r.correct / r.result.pages for r in rs),
        }
        for name, rs in runs.items() if rs
    }


def _table(med: dict[str, dict[str, float]], prefix: str, bound: float) -> None:
    print(f"{'contender':<20}{'pages/s':>9}{'of bound':>10}{'CPU ms/page':>13}"
          f"{'peak RSS MB':>13}{'correct':>9}")
    for name, m in med.items():
        rate = m[f"{prefix}pages_per_second"]
        print(f"{name:<20}{rate:>9.1f}{rate / bound:>10.0%}{m[f'{prefix}cpu_ms_per_page']:>13.2f}"
              f"{m[f'{prefix}max_rss_mb']:>13.1f}{m['correct_fraction']:>9.1%}")


def _ratios(med: dict[str, dict[str, float]], name: str, prefix: str, bound: float) -> None:
    m = med.get(name)
    if m is None:
        return
    rate, cpu, rss = (m[f"{prefix}{k}"] for k in
                      ("pages_per_second", "cpu_ms_per_page", "max_rss_mb"))
    print(f"{name}: {rate / bound:.0%} of the latency bound", end="")
    for other in ("tutorial", "scrapy"):
        if other in med:
            o = med[other]
            print(f"; {rate / o[f'{prefix}pages_per_second']:.2f}x {other}'s pages/s, "
                  f"{cpu / o[f'{prefix}cpu_ms_per_page']:.2f}x its CPU per page, "
                  f"{rss / o[f'{prefix}max_rss_mb']:.2f}x its RSS", end="")
    print()


def print_report(med: dict[str, dict[str, float]], *, bound: float, args: argparse.Namespace,
                 style: str, shop_cpu_ms: float) -> None:
    print(f"\n== {style} pages: medians of {args.runs} runs, {args.pages} pages of "
          f"~{args.page_kb} KB, {args.hosts} hosts, {args.latency * 1000:.0f} ms latency, "
          f"{args.connections} connections; latency bound {bound:.0f} pages/s; load shop CPU "
          f"{shop_cpu_ms:.2f} ms per page served")
    print("in-process (timed phase: first request to last commit):")
    _table(med, "", bound)
    _ratios(med, "pricewatch", "", bound)
    print("whole process (spawn to exit, as /usr/bin/time sees it):")
    _table(med, "whole_", bound)
    _ratios(med, "once", "whole_", bound)
    once = med.get("once")
    if once is None:
        return
    rate, cpu, rss = (once[f"whole_{k}"] for k in
                      ("pages_per_second", "cpu_ms_per_page", "max_rss_mb"))
    print("targets (pricewatch once, whole process):")
    _target(f"pages/s >= 90% of the latency bound ({0.9 * bound:.0f})", rate >= 0.9 * bound,
            f"{rate:.0f} ({rate / bound:.0%})")
    if "scrapy" in med:
        s = med["scrapy"]
        cpu_ratio = cpu / s["whole_cpu_ms_per_page"]
        rss_ratio = rss / s["whole_max_rss_mb"]
        _target("CPU per page <= 0.4x Scrapy's", cpu_ratio <= 0.4, f"{cpu_ratio:.2f}x")
        _target("peak RSS <= 0.5x Scrapy's", rss_ratio <= 0.5, f"{rss_ratio:.2f}x")


def _target(what: str, met: bool, value: str) -> None:
    print(f"  [{'met ' if met else 'MISS'}] {what}: {value}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--page-kb", type=int, default=200)
    parser.add_argument("--styles", default="plain,dense",
                        help="comma-separated page styles, from " + ", ".join(STYLES))
    parser.add_argument("--contenders", default=DEFAULT,
                        help="comma-separated, from " + ", ".join([*CONTENDERS, *WHAT_IF]))
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args(argv)
    names = [n.strip() for n in args.contenders.split(",") if n.strip()]
    unknown = set(names) - set(CONTENDERS) - set(WHAT_IF)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    styles = [s.strip() for s in args.styles.split(",") if s.strip()]
    if set(styles) - set(STYLES):
        parser.error(f"unknown styles: {', '.join(sorted(set(styles) - set(STYLES)))}")

    print(f"load average before the run: {_load()} ({os.cpu_count()} CPUs, shared)")
    runs: dict[str, dict[str, list[Run]]] = {s: {n: [] for n in names} for s in styles}
    shop_cpu: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="pricewatch-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        work = Path(tmp)
        log = work / "contenders.log"
        shops = {s: stack.enter_context(Shop(hosts=args.hosts, latency=args.latency,
                                             page_kb=args.page_kb, style=s)) for s in styles}
        url_files = {}
        for style, shop in shops.items():
            url_files[style] = work / f"urls-{style}.txt"
            url_files[style].write_text("\n".join(url_of(i, hosts=args.hosts, port=shop.port)
                                                  for i in range(args.pages)) + "\n")
        print(f"{'run':<5}{'style':<7}{'contender':<20}{'pages/s':>9}{'CPU ms/page':>13}"
              f"{'peak RSS MB':>13}{'whole p/s':>11}{'whole CPU ms':>14}{'whole RSS':>11}"
              f"{'correct':>9}")
        for r in range(args.runs):
            order = names[r % len(names):] + names[:r % len(names)]
            for style in styles:
                for name in order:
                    module, extra = WHAT_IF.get(name, (CONTENDERS.get(name, ""), []))
                    run = run_contender(module, urls=url_files[style],
                                        db=work / f"{style}-{name}-{r}.db",
                                        connections=args.connections, hosts=args.hosts, log=log,
                                        extra=extra)
                    runs[style][name].append(run)
                    print(f"{r + 1:<5}{style:<7}{name:<20}{run.pages_per_second:>9.1f}"
                          f"{run.cpu_ms_per_page:>13.2f}{run.result.max_rss_mb:>13.1f}"
                          f"{run.whole_pages_per_second:>11.1f}"
                          f"{run.whole_cpu_ms_per_page:>14.2f}{run.whole_max_rss_mb:>11.1f}"
                          f"{run.correct:>9}", flush=True)
        stack.close()
        served = args.pages * args.runs * len(names)
        shop_cpu = {s: 1000 * shop.cpu_seconds / served for s, shop in shops.items()}
        errors = log.read_text(encoding="utf-8") if log.exists() else ""
    print(f"load average after the run: {_load()}")
    if errors.strip():
        print("contenders' stderr (last lines):\n" + "\n".join(errors.splitlines()[-6:]))
    bound = args.connections / args.latency
    medians = {}
    for style in styles:
        medians[style] = summarize(runs[style])
        print_report(medians[style], bound=bound, args=args, style=style,
                     shop_cpu_ms=shop_cpu[style])
    if args.json:
        args.json.write_text(json.dumps({"medians": medians, "bound": bound,
                                         "args": vars(args) | {"json": str(args.json)}},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
