"""Throughput and cost in one run: the floor, the tutorial way, Scrapy, ``pricewatch once``.

Starts the load shop (its own process, 20 loopback hosts, artificial latency) once per page
style (``plain``: large blocks; ``dense``: thousands of small elements per page), then runs
every contender ``--runs`` times at every ``--connections`` count over the same pages,
alternating the order each round so a noisy neighbour on the shared cores hurts all of them
alike, each run in a fresh process.

Two views of every run: *in-process*, the timed phase each contender reports about itself
(first request to last commit), and *whole process*, what ``wait4`` (and so ``/usr/bin/time``)
sees from spawn to exit: imports, config, migrations, exit, and every child process (the
extraction workers) included. The ``once`` contender is ``pricewatch once`` itself on a config
file, measured only from outside. The ``floor`` fetches every page and discards it (see
``bench/floor.py``): the fraction of the latency bound any client reaches on this machine and
load shop, beside which the others' fractions read. Peak RSS is reported twice: ``ru_maxrss``
(the largest single process, what ``/usr/bin/time`` prints) and the peak of the process tree's
summed RSS (sampled); the targets use the sum. ``cores`` is whole-process CPU over wall time.

The tutorial way runs at about 16 pages/s, so it gets ``--tutorial-pages`` pages per run (its
per-page figures and rate do not depend on the count); the others get ``--pages``. Bytecode is
compiled for pricewatch and the bench first, as ``pip install`` does for Scrapy's.
``--busy-core`` keeps one core busy with a spinning process for the whole run (the shared-machine
case: compare the pages/s against a run without it).

    python -m bench.throughput [--pages 2000] [--runs 3] [--latency 0.1]
                               [--connections 50,100] [--styles plain,dense]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

from bench.harness import ROOT, Run, Shop, run_contender
from bench.loadshop import STYLES, url_of

CONTENDERS = {"floor": "floor", "tutorial": "tutorial", "scrapy": "scrapy_contender",
              "pricewatch": "pricewatch_contender", "once": "once_contender"}
# Projections, run only when asked for by name: pricewatch with the profiled hot spot removed.
WHAT_IF = {"pricewatch-noavail": ("pricewatch_contender", ["--what-if", "no-availability"]),
           "pricewatch-noextract": ("pricewatch_contender", ["--what-if", "no-extract"]),
           # The single-process engine (extraction threads), for the comparison with workers.
           "once-threads": ("once_contender", ["--workers", "0"])}
DEFAULT = "floor,tutorial,scrapy,once"


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
            "tree_rss_mb": _median(rs, lambda r: r.tree_rss_mb),
            "cores": _median(rs, lambda r: r.cores),
            "process_cpu_seconds": _median(rs, lambda r: r.process_cpu_seconds),
            "pages": float(rs[0].result.pages),
            "correct_fraction": min(r.correct / r.result.pages for r in rs),
        }
        for name, rs in runs.items() if rs
    }


def _table(med: dict[str, dict[str, float]], bound: float) -> None:
    print(f"{'contender':<16}{'pages':>6}{'pages/s':>9}{'of bound':>9}{'CPU ms/page':>12}"
          f"{'cores':>7}{'maxrss MB':>10}{'tree RSS MB':>12}{'correct':>9}")
    for name, m in med.items():
        rate = m["whole_pages_per_second"]
        print(f"{name:<16}{m['pages']:>6.0f}{rate:>9.1f}{rate / bound:>9.0%}"
              f"{m['whole_cpu_ms_per_page']:>12.2f}{m['cores']:>7.2f}"
              f"{m['whole_max_rss_mb']:>10.1f}{m['tree_rss_mb']:>12.1f}"
              + (f"{'-':>9}" if name == "floor" else f"{m['correct_fraction']:>9.1%}"))


def _ratios(med: dict[str, dict[str, float]], name: str, bound: float) -> None:
    m = med.get(name)
    if m is None:
        return
    rate, cpu, rss = m["whole_pages_per_second"], m["whole_cpu_ms_per_page"], m["tree_rss_mb"]
    print(f"{name}: {rate / bound:.0%} of the latency bound", end="")
    if "floor" in med:
        print(f" ({rate / med['floor']['whole_pages_per_second']:.0%} of the floor's pages/s)",
              end="")
    for other in ("tutorial", "scrapy"):
        if other in med and other != name:
            o = med[other]
            print(f"; {rate / o['whole_pages_per_second']:.2f}x {other}'s pages/s, "
                  f"{cpu / o['whole_cpu_ms_per_page']:.2f}x its CPU per page, "
                  f"{rss / o['tree_rss_mb']:.2f}x its RSS", end="")
    print()


def print_report(med: dict[str, dict[str, float]], *, args: argparse.Namespace, style: str,
                 connections: int, shop_cpu_ms: float) -> None:
    bound = connections / args.latency
    print(f"\n== {style} pages, {connections} connections: medians of {args.runs} runs, "
          f"~{args.page_kb} KB pages, {args.hosts} hosts, {args.latency * 1000:.0f} ms latency; "
          f"latency bound {bound:.0f} pages/s; load shop CPU {shop_cpu_ms:.2f} ms per page "
          f"served")
    print("whole process (spawn to exit, child processes included, as /usr/bin/time sees it):")
    _table(med, bound)
    for name in med:
        if name not in ("floor", "tutorial", "scrapy"):
            _ratios(med, name, bound)
    if "pricewatch" in med:
        m = med["pricewatch"]
        print(f"pricewatch in-process (timed phase, first request to last commit): "
              f"{m['pages_per_second']:.1f} pages/s, {m['cpu_ms_per_page']:.2f} CPU ms/page")
    once = med.get("once")
    if once is None:
        return
    rate, cpu, rss = once["whole_pages_per_second"], once["whole_cpu_ms_per_page"], \
        once["tree_rss_mb"]
    print("targets (pricewatch once, whole process):")
    floor = med.get("floor")
    _target(f"pages/s >= 90% of the latency bound ({0.9 * bound:.0f})", rate >= 0.9 * bound,
            f"{rate:.0f} ({rate / bound:.0%})" + (
                "" if floor is None else
                f"; the floor, fetching only: {floor['whole_pages_per_second']:.0f}"
                f" ({floor['whole_pages_per_second'] / bound:.0%})"))
    if "scrapy" in med:
        s = med["scrapy"]
        cpu_ratio = cpu / s["whole_cpu_ms_per_page"]
        rss_ratio = rss / s["tree_rss_mb"]
        _target("CPU per page <= 0.4x Scrapy's", cpu_ratio <= 0.4, f"{cpu_ratio:.2f}x")
        _target("peak RSS (tree) <= 0.5x Scrapy's", rss_ratio <= 0.5, f"{rss_ratio:.2f}x")


def _target(what: str, met: bool, value: str) -> None:
    print(f"  [{'met ' if met else 'MISS'}] {what}: {value}")


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def _csv(text: str) -> list[str]:
    return [part.strip() for part in text.split(",") if part.strip()]


@contextlib.contextmanager
def _busy_core(on: bool) -> Iterator[None]:
    """A process spinning on one core for the whole run (``--busy-core``), or nothing."""
    if not on:
        yield
        return
    spinner = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        spinner.kill()
        spinner.wait()


def _compile_bytecode() -> None:
    """pip compiles an installed package's bytecode; an editable checkout (and an environment
    with PYTHONDONTWRITEBYTECODE) would make every pricewatch process compile its modules."""
    subprocess.run([sys.executable, "-m", "compileall", "-q", "pricewatch", "bench"], cwd=ROOT,
                   check=True, stdout=subprocess.DEVNULL)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--tutorial-pages", type=int, default=400,
                        help="pages per run of the (slow) tutorial way")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds per answer")
    parser.add_argument("--connections", default="50,100",
                        help="comma-separated connection counts, each a pass of every run")
    parser.add_argument("--page-kb", type=int, default=200)
    parser.add_argument("--styles", default="plain,dense",
                        help="comma-separated page styles, from " + ", ".join(STYLES))
    parser.add_argument("--contenders", default=DEFAULT,
                        help="comma-separated, from " + ", ".join([*CONTENDERS, *WHAT_IF]))
    parser.add_argument("--busy-core", action="store_true",
                        help="keep one core busy with a spinning process during every run")
    parser.add_argument("--json", type=Path, help="also write the medians here")
    args = parser.parse_args(argv)
    names = _csv(args.contenders)
    unknown = set(names) - set(CONTENDERS) - set(WHAT_IF)
    if unknown:
        parser.error(f"unknown contenders: {', '.join(sorted(unknown))}")
    styles = _csv(args.styles)
    if set(styles) - set(STYLES):
        parser.error(f"unknown styles: {', '.join(sorted(set(styles) - set(STYLES)))}")
    try:
        counts = [int(c) for c in _csv(args.connections)]
    except ValueError:
        parser.error(f"--connections: numbers separated by commas, not {args.connections!r}")
    if not counts or min(counts) < 1:
        parser.error("--connections: at least one count, each 1 or more")

    _compile_bytecode()
    print(f"load average before the run: {_load()} ({os.cpu_count()} CPUs, shared)"
          + ("; one core kept busy by a spinning process" if args.busy_core else ""))
    keys = [(style, conns) for conns in counts for style in styles]
    runs: dict[tuple[str, int], dict[str, list[Run]]] = {k: {n: [] for n in names} for k in keys}
    served = 0
    with tempfile.TemporaryDirectory(prefix="pricewatch-bench-") as tmp, \
            contextlib.ExitStack() as stack:
        work = Path(tmp)
        log = work / "contenders.log"
        shops = {s: stack.enter_context(Shop(hosts=args.hosts, latency=args.latency,
                                             page_kb=args.page_kb, style=s)) for s in styles}
        url_files: dict[tuple[str, bool], Path] = {}
        for style, shop in shops.items():
            for short, count in ((False, args.pages), (True, min(args.pages,
                                                                 args.tutorial_pages))):
                path = url_files[style, short] = work / f"urls-{style}-{count}.txt"
                path.write_text("\n".join(url_of(i, hosts=args.hosts, port=shop.port)
                                          for i in range(count)) + "\n")
        stack.enter_context(_busy_core(args.busy_core))
        print(f"{'run':<5}{'style':<7}{'conns':>6} {'contender':<16}{'pages/s':>9}"
              f"{'CPU ms/page':>13}{'cores':>7}{'maxrss MB':>10}{'tree RSS MB':>12}"
              f"{'correct':>9}")
        for r in range(args.runs):
            order = names[r % len(names):] + names[:r % len(names)]
            for style, conns in keys:
                for name in order:
                    module, extra = WHAT_IF.get(name, (CONTENDERS.get(name, ""), []))
                    urls = url_files[style, name == "tutorial"]
                    run = run_contender(module, urls=urls,
                                        db=work / f"{style}-{conns}-{name}-{r}.db",
                                        connections=conns, hosts=args.hosts, log=log,
                                        extra=extra)
                    served += run.result.pages
                    runs[style, conns][name].append(run)
                    print(f"{r + 1:<5}{style:<7}{conns:>6} {name:<16}"
                          f"{run.whole_pages_per_second:>9.1f}{run.whole_cpu_ms_per_page:>13.2f}"
                          f"{run.cores:>7.2f}{run.whole_max_rss_mb:>10.1f}"
                          f"{run.tree_rss_mb:>12.1f}{run.correct:>9}", flush=True)
        stack.close()
        shop_cpu = {s: 1000 * shop.cpu_seconds / max(1, served // len(styles))
                    for s, shop in shops.items()}
        errors = log.read_text(encoding="utf-8") if log.exists() else ""
    print(f"load average after the run: {_load()}")
    if errors.strip():
        print("contenders' stderr (last lines):\n" + "\n".join(errors.splitlines()[-6:]))
    medians: dict[str, dict[str, dict[str, float]]] = {}
    for style, conns in keys:
        med = medians[f"{style}/{conns}"] = summarize(runs[style, conns])
        print_report(med, args=args, style=style, connections=conns,
                     shop_cpu_ms=shop_cpu[style])
    if args.json:
        args.json.write_text(json.dumps({"medians": medians,
                                         "args": vars(args) | {"json": str(args.json)}},
                                        indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
