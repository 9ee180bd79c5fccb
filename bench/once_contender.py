"""Contender 4: ``pricewatch once`` as a user's cron job runs it, measured from outside.

Writes the same config the in-process contender builds (same politeness, same selector) to a
file, runs ``python -m pricewatch once -c that-file`` on a fresh database, and reports the
whole child process as ``wait4`` (and so ``/usr/bin/time -v``) sees it: wall time from spawn to
exit, user + system CPU of the process and of its worker processes, and peak RSS (the largest
of the process and its workers: what ``ru_maxrss`` reports), plus the peak of the process
tree's summed RSS (sampled), which is what the machine must hold.

    python -m bench.once_contender --urls urls.txt --db out.db --connections 50 --hosts 20
"""

from __future__ import annotations

import argparse
import json
import os
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from bench.measure import Result, TreeRss, read_urls
from bench.pricewatch_contender import config_text


def run_once(config: Path, *, env: dict[str, str] | None = None
             ) -> tuple[float, float, float, float]:
    """(wall seconds, CPU seconds, peak RSS MB, peak tree RSS MB) of one ``pricewatch once``
    process, its worker processes included."""
    started = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-m", "pricewatch", "once", "-c", str(config)],
                            stdout=subprocess.DEVNULL, env=env)
    with TreeRss(proc.pid) as tree:
        _pid, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise RuntimeError(f"pricewatch once exited {proc.returncode}")
    return wall, usage.ru_utime + usage.ru_stime, usage.ru_maxrss / 1024, tree.peak_mb


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--workers", type=int, help="workers: (default: the config's)")
    args = parser.parse_args(argv)
    urls = read_urls(args.urls)
    text = json.loads(config_text(urls, database_url=f"sqlite:///{args.db}",
                                  connections=args.connections, hosts=args.hosts))
    if args.workers is not None:
        text["workers"] = args.workers
    config = Path(args.db).with_suffix(".yaml")
    config.write_text(json.dumps(text), encoding="utf-8")
    wall, cpu, rss, tree = run_once(config)
    conn = sqlite3.connect(args.db)
    try:
        stored = conn.execute("SELECT count(*) FROM checks").fetchone()[0]
    finally:
        conn.close()
    result = Result("pricewatch once", len(urls), stored, round(wall, 4), round(cpu, 4),
                    round(rss, 1), whole_process=True, tree_rss_mb=round(tree, 1))
    sys.stdout.write("RESULT " + json.dumps(result.__dict__) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
