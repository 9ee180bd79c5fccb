"""One scale run in its own process: N offers, one round, one database (the child of scale.py).

The steps are ``pricewatch once``'s: the config file through the real loader (``config.load``,
with ``PRICEWATCH_DATABASE_URL`` from the environment choosing the database), migrations,
catalogue sync, then one round through the real Fetcher and CheckWriter. It reads its own peak
RSS from /proc/self/status (VmHWM): once after loading the config (imports included), and once
for the round alone (the kernel's high-water mark is reset in between through
/proc/self/clear_refs), so a big config file and a big round are told apart; the process's
peak is the larger of the two.

    PRICEWATCH_DATABASE_URL=sqlite:///x.db python -m bench.scale_run --config config.yaml
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import sys
import time
from pathlib import Path
from typing import Any

from sqlalchemy import text

from bench.measure import Phase
from bench.pricewatch_contender import timed_round
from pricewatch.config import Settings, load
from pricewatch.db.database import open_database


def _status(field: str) -> float:
    """A VmHWM / VmRSS line of /proc/self/status, in MB."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) / 1024
    return float("nan")


def _reset_peak() -> bool:
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        return False
    return True


async def run(settings: Settings, out: dict[str, Any]) -> None:
    phase = Phase()
    done = await timed_round(settings, phase)
    async with open_database(settings, upgrade=False) as engine, engine.connect() as conn:
        out["rows"] = (await conn.execute(text("SELECT count(*) FROM checks"))).scalar_one()
    out.update(startup_seconds=round(done.setup_seconds, 2),
               round_seconds=round(phase.seconds, 2), cpu_seconds=round(phase.cpu_seconds, 2),
               written=done.written, dropped=done.dropped, summary=done.summary.line(),
               worker_peak_rss_mb=[round(p, 1) for p in done.worker_peaks_mb])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", required=True)
    args = parser.parse_args(argv)
    started = time.perf_counter()
    settings = load(args.config)
    gc.collect()
    out: dict[str, Any] = {"offers": len(settings.offers())}
    out["config_seconds"] = round(time.perf_counter() - started, 2)
    out["config_peak_rss_mb"] = round(_status("VmHWM"), 1)
    out["rss_after_config_mb"] = round(_status("VmRSS"), 1)
    out["peak_reset"] = _reset_peak()
    asyncio.run(run(settings, out))
    out["round_peak_rss_mb"] = round(_status("VmHWM"), 1)
    # The whole process: VmHWM belongs to this program's own memory map. getrusage's and
    # wait4's ru_maxrss are not this process's alone: they also count the parent's RSS at
    # fork, before exec (a parent holding 300 MB gives an empty child 311 MB).
    out["process_peak_rss_mb"] = max(out["config_peak_rss_mb"], out["round_peak_rss_mb"])
    sys.stdout.write("RESULT " + json.dumps(out) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
