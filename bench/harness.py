"""Running things in their own processes: the load shop, and one contender at a time.

A contender's peak RSS and CPU must be its own, so each run is a fresh interpreter; ``wait4``
gives the whole process's CPU (start-up included) next to the timed phase it reports itself.
"""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from types import TracebackType
from urllib.parse import urlsplit

from bench.loadshop import price_of
from bench.measure import Result, TreeRss

ROOT = Path(__file__).resolve().parent.parent


class Shop:
    """The load shop in a subprocess: ``with Shop(...) as shop: shop.port``."""

    def __init__(self, *, hosts: int, latency: float, page_kb: int = 200,
                 style: str = "plain") -> None:
        self.hosts = hosts
        self.latency = latency
        self._args = [sys.executable, "-m", "bench.loadshop", "--hosts", str(hosts),
                      "--latency", str(latency), "--page-kb", str(page_kb), "--style", style]
        self._proc: subprocess.Popen[str] | None = None
        self.port = 0
        self.cpu_seconds = 0.0

    def __enter__(self) -> Shop:
        self._proc = subprocess.Popen(self._args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
        assert self._proc.stdout is not None
        line = self._proc.stdout.readline()
        if not line.startswith("READY "):
            self._proc.kill()
            raise RuntimeError(f"load shop did not start: {line!r}")
        self.port = int(line.split()[1])
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._proc is not None:
            self._proc.terminate()
            _pid, _status, usage = os.wait4(self._proc.pid, 0)
            self._proc.returncode = 0
            self.cpu_seconds = usage.ru_utime + usage.ru_stime


@dataclass
class Run:
    """One contender run: what it reported, what wait4 saw, and what its database holds.

    ``pages_per_second`` and ``cpu_ms_per_page`` are the timed phase's (in-process); the
    ``whole_*`` figures are the whole process's, start to exit, as ``/usr/bin/time`` sees it.
    """

    result: Result
    process_cpu_seconds: float  # whole process, interpreter start-up and imports included
    correct: int  # stored rows whose price equals the page's true price
    process_seconds: float = 0.0  # wall time from spawn to exit
    process_max_rss_mb: float = 0.0  # ru_maxrss from wait4
    process_tree_rss_mb: float = 0.0  # peak summed RSS of the process and its children

    @property
    def pages_per_second(self) -> float:
        return self.result.pages / self.result.seconds

    @property
    def cpu_ms_per_page(self) -> float:
        return 1000 * self.result.cpu_seconds / self.result.pages

    @property
    def whole_pages_per_second(self) -> float:
        if self.result.whole_process:  # the contender measured its child from outside
            return self.pages_per_second
        return self.result.pages / self.process_seconds

    @property
    def whole_cpu_ms_per_page(self) -> float:
        if self.result.whole_process:
            return self.cpu_ms_per_page
        return 1000 * self.process_cpu_seconds / self.result.pages

    @property
    def whole_max_rss_mb(self) -> float:
        return self.result.max_rss_mb if self.result.whole_process else self.process_max_rss_mb

    @property
    def tree_rss_mb(self) -> float:
        """The peak of the summed RSS of every process of the contender (workers too)."""
        return self.result.tree_rss_mb if self.result.whole_process else self.process_tree_rss_mb

    @property
    def cores(self) -> float:
        """Cores kept busy on average: whole-process CPU over wall time."""
        seconds = self.result.seconds if self.result.whole_process else self.process_seconds
        return self.whole_cpu_ms_per_page * self.result.pages / 1000 / seconds


def run_contender(module: str, *, urls: Path, db: Path, connections: int, hosts: int,
                  log: Path, extra: Sequence[str] = ()) -> Run:
    """Run ``bench.<module>`` in a fresh process and read its RESULT line."""
    args = [sys.executable, "-m", f"bench.{module}", "--urls", str(urls), "--db", str(db),
            "--connections", str(connections), "--hosts", str(hosts), *extra]
    with log.open("a", encoding="utf-8") as err:
        started = time.perf_counter()
        proc = subprocess.Popen(args, cwd=ROOT, stdout=subprocess.PIPE, stderr=err, text=True)
        assert proc.stdout is not None
        with TreeRss(proc.pid) as tree:
            out = proc.stdout.read()
            _pid, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - started
        proc.returncode = os.waitstatus_to_exitcode(status)
    lines = [line for line in out.splitlines() if line.startswith("RESULT ")]
    if proc.returncode != 0 or not lines:
        raise RuntimeError(f"{module} failed (exit {proc.returncode}); see {log}")
    result = Result(**json.loads(lines[-1].removeprefix("RESULT ")))
    return Run(result, usage.ru_utime + usage.ru_stime, count_correct(db), wall,
               usage.ru_maxrss / 1024, tree.peak_mb)


def count_correct(db: Path) -> int:
    """Rows whose stored price is the page's true price, whichever contender wrote them."""
    conn = sqlite3.connect(db)
    try:
        tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master")}
        if "checks" in tables:  # pricewatch's schema
            rows = conn.execute(
                "SELECT o.url, c.price FROM checks c JOIN offers o ON o.id = c.offer_id"
            ).fetchall()
        else:
            rows = conn.execute("SELECT url, price FROM prices").fetchall()
    finally:
        conn.close()
    good = 0
    for url, price in rows:
        page = int(urlsplit(url).path.rsplit("/", 1)[-1])
        if price is not None and Decimal(str(price)) == price_of(page):
            good += 1
    return good
