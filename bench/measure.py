"""What every contender reports about itself: one JSON line measured the same way for all.

Each contender runs in a fresh process, so ``RUSAGE_SELF`` (all threads: aiosqlite's, Twisted's
thread pool) plus ``RUSAGE_CHILDREN`` (worker processes, once they have exited) and
``ru_maxrss`` are its own. The timed phase runs from just before the first
request to just after the last row is committed; interpreter start-up and imports are outside
it (the orchestrator reports those separately from ``wait4``).
"""

from __future__ import annotations

import contextlib
import json
import resource
import sys
import threading
import time
from dataclasses import asdict, dataclass
from pathlib import Path
from types import TracebackType


@dataclass
class Result:
    contender: str
    pages: int  # pages requested
    stored: int  # rows the contender says it stored
    seconds: float  # wall time of the timed phase
    cpu_seconds: float  # process CPU (user + system, all threads) in the timed phase
    max_rss_mb: float  # peak resident set of the whole process
    whole_process: bool = False  # the figures above are the whole process's, start to exit
    tree_rss_mb: float = 0.0  # peak of the summed RSS of the process and its children, sampled


class Phase:
    """Times a phase: wall clock and process CPU."""

    def __init__(self) -> None:
        self._wall = 0.0
        self._cpu = 0.0
        self.seconds = 0.0
        self.cpu_seconds = 0.0

    def start(self) -> None:
        self._wall = time.perf_counter()
        self._cpu = _cpu()

    def stop(self) -> None:
        self.seconds = time.perf_counter() - self._wall
        self.cpu_seconds = _cpu() - self._cpu


def _cpu() -> float:
    """This process's CPU and that of its children that have exited (worker processes)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def max_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def report(contender: str, pages: int, stored: int, phase: Phase) -> None:
    """Print the result as the last line of stdout, where the orchestrator reads it."""
    result = Result(contender, pages, stored, round(phase.seconds, 4),
                    round(phase.cpu_seconds, 4), round(max_rss_mb(), 1))
    sys.stdout.write("RESULT " + json.dumps(asdict(result)) + "\n")
    sys.stdout.flush()


def read_urls(path: str) -> list[str]:
    with open(path, encoding="utf-8") as fh:
        return [line.strip() for line in fh if line.strip()]


def _tree(pid: int) -> list[int]:
    """``pid`` and its descendants (Linux /proc)."""
    todo, found = [pid], []
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = list(Path(f"/proc/{current}/task").iterdir())
        except OSError:
            continue
        for task in tasks:
            with contextlib.suppress(OSError):
                todo.extend(int(c) for c in (task / "children").read_text().split())
    return found


def _rss_kb(pid: int) -> int:
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0


class TreeRss:
    """Samples the summed RSS of a process and its descendants in a thread of the measuring
    process (its own CPU is not the contender's). ``ru_maxrss``, what /usr/bin/time prints, is
    the largest single process; with worker processes the sum is what the machine must hold.

    ``with TreeRss(pid) as tree: ...; tree.peak_mb``"""

    def __init__(self, pid: int, every: float = 0.02) -> None:
        self.pid = pid
        self.every = every
        self.peak_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            total = sum(_rss_kb(p) for p in _tree(self.pid)) / 1024
            self.peak_mb = max(self.peak_mb, total)
            self._stop.wait(self.every)

    def __enter__(self) -> TreeRss:
        self._thread.start()
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join()
