"""The browser's processes, read from /proc (Linux): which ones belong to a launched Chromium,
and their resident memory. Elsewhere (or for a remote browser) there is nothing to read, and
the memory cap does not apply."""

from __future__ import annotations

import os
from pathlib import Path

_PROC = Path("/proc")
_PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def _parents() -> dict[int, int]:
    """pid -> parent pid of every process we can read."""
    out: dict[int, int] = {}
    for entry in _PROC.glob("[0-9]*"):
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 1:
            out[int(entry.name)] = int(fields[1])
    return out


def tree(root: int) -> list[int]:
    """``root`` and all its descendants that are still running."""
    parents = _parents()
    if root not in parents:
        return []
    children: dict[int, list[int]] = {}
    for pid, parent in parents.items():
        children.setdefault(parent, []).append(pid)
    found, todo = [], [root]
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo.extend(children.get(pid, ()))
    return found


def find(marker: str, *, under: int) -> int | None:
    """The process below ``under`` whose command line holds ``marker`` (the browser's main
    process carries a switch naming its session), or None."""
    for pid in tree(under):
        try:
            cmdline = (_PROC / str(pid) / "cmdline").read_bytes()
        except OSError:
            continue
        if marker.encode() in cmdline.split(b"\0"):
            return pid
    return None


def memory(root: int) -> int:
    """Bytes of memory ``root`` and its descendants use: the sum of their proportional set
    sizes (a page shared by N processes counts 1/N in each), so Chromium's many processes
    sharing one set of libraries are not counted once per process. Falls back to resident
    size where smaps_rollup cannot be read."""
    return sum(own(pid) for pid in tree(root))


def own(pid: int) -> int:
    """One process's proportional set size in bytes (0 once it is gone)."""
    try:
        for line in (_PROC / str(pid) / "smaps_rollup").read_text().splitlines():
            if line.startswith("Pss:"):
                return int(line.split()[1]) * 1024
    except (OSError, ValueError):
        pass
    try:
        statm = (_PROC / str(pid) / "statm").read_text().split()
    except OSError:
        return 0
    return int(statm[1]) * _PAGE if len(statm) > 1 else 0
