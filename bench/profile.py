"""Where pricewatch's CPU goes: py-spy samples of the pricewatch contender, grouped by area.

Runs the load shop and one pricewatch contender under ``py-spy record`` (every thread, so the
aiosqlite writer thread counts too), then attributes each sample to the innermost frame that
names an area: extraction (split into the Lexbor parse, the index query, availability, title
and the explicit rule), the fetch path (pricewatch.fetch + aiohttp), the writer/store, the
round runner and pipeline, the event loop itself, and start-up (imports, config) outside the
timed phase.

    python -m bench.profile [--pages 1000] [--top 15]
"""

from __future__ import annotations

import argparse
import collections
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from bench.harness import ROOT, Shop
from bench.loadshop import url_of

STARTUP = "start-up: imports, config (untimed)"
IDLE = "waiting (epoll, aiosqlite and extraction queues; not CPU)"
UNTIMED = (STARTUP, IDLE)

# Innermost match wins, so specific entries come before the packages that contain them.
AREAS: list[tuple[str, tuple[str, ...]]] = [
    # Blocking waits py-spy does not always recognise as idle: epoll, aiosqlite's queue.
    (IDLE, ("EpollSelector.select (", "_connection_worker_thread (aiosqlite/core.py:59)",
            # An extraction thread blocked on its empty queue.
            "_worker (concurrent/futures/thread.py:81)")),
    (STARTUP, ("<frozen importlib", "pricewatch/config/", "yaml/",
               "pydantic")),
    ("extract: availability (visible_signals)", ("extract/availability.py",)),
    ("extract: Lexbor parse (parse_tree)", ("parse_tree (",)),
    ("extract: index (one CSS query)", ("extract/index.py",)),
    ("extract: title", ("extract/title.py",)),
    ("extract: explicit rule + price parsing", ("extract/explicit.py", "extract/money.py",
                                                "extract/locales.py")),
    ("extract: other", ("pricewatch/extract/",)),
    ("fetch: decode + bot-wall check", ("fetch/decode.py", "fetch/classify.py")),
    ("fetch: pricewatch.fetch + aiohttp/yarl", ("pricewatch/fetch/", "aiohttp/", "yarl/",
                                                 "multidict/")),
    ("db: writer + SQLAlchemy + aiosqlite", ("pricewatch/db/", "sqlalchemy/",
                                                "aiosqlite/", "sqlite3")),
    ("round runner + pipeline", ("pricewatch/runtime/rounds.py", "pricewatch/runtime/pipeline.py")),
    ("event loop (asyncio, sockets)", ("asyncio/", "selectors.py")),
]


def area_of(frames: list[str]) -> str:
    for frame in reversed(frames):
        for name, needles in AREAS:
            if any(n in frame for n in needles):
                return name
    return "other"


def analyse(raw: Path, top: int) -> None:
    areas: collections.Counter[str] = collections.Counter()
    leaves: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        frames = stack.split(";")
        total += n
        areas[area_of(frames)] += n
        leaves[frames[-1].split("site-packages/")[-1][:100]] += n
    if not total:
        print("no samples")
        return
    timed = total - sum(areas[name] for name in UNTIMED)
    print(f"{total} samples; {timed} on CPU in the timed round. Share of it by area:")
    for name, n in areas.most_common():
        share = "" if name in UNTIMED else f"{100 * n / timed:6.1f}%"
        print(f"  {share:>7} {name} ({n} samples)")
    print(f"hottest functions (self time, share of all {total} samples):")
    for frame, n in leaves.most_common(top):
        print(f"  {100 * n / total:6.1f}% {frame}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--latency", type=float, default=0.1)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args(argv)
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    with tempfile.TemporaryDirectory(prefix="pricewatch-profile-") as tmp:
        work = Path(tmp)
        raw = work / "pricewatch.txt"
        with Shop(hosts=args.hosts, latency=args.latency) as shop:
            urls = work / "urls.txt"
            urls.write_text("\n".join(url_of(i, hosts=args.hosts, port=shop.port)
                                      for i in range(args.pages)) + "\n")
            subprocess.run(
                [spy, "record", "--rate", str(args.rate), "--format", "raw", "--output",
                 str(raw), "--", sys.executable, "-m", "bench.pricewatch_contender",
                 "--urls", str(urls), "--db", str(work / "pw.db"),
                 "--connections", str(args.connections), "--hosts", str(args.hosts)],
                cwd=ROOT, check=True,
            )
        analyse(raw, args.top)
    return 0


if __name__ == "__main__":
    sys.exit(main())
