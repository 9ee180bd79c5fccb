"""Contender 3: pricewatch's real pipeline, the code ``pricewatch once`` runs.

A generated config.yaml goes through ``config.loads`` (the real loader), then the steps of
``service.run_once`` run one by one so the timed phase holds the same work the other
contenders' phases hold: migrations and the catalogue sync (start-up, like Scrapy's engine
start or the tutorial's CREATE TABLE) are timed separately and reported on stderr. Politeness
is relaxed only as far as the others': per-host delay 0, per-host concurrency
ceil(connections / hosts), the same total connection limit; robots.txt stays obeyed.

    python -m bench.pricewatch_contender --urls urls.txt --db out.db --connections 50 --hosts 20
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from bench.measure import Phase, read_urls, report
from pricewatch.config import Settings, loads
from pricewatch.db.database import load_previous, open_database, sync
from pricewatch.db.writer import CheckWriter
from pricewatch.fetch import Fetcher
from pricewatch.runtime.recorder import Summary
from pricewatch.runtime.rounds import run_round
from pricewatch.runtime.workers import ProcessExtractor, make_extractor

SELECTOR = ".buybox .price"


def config_text(urls: list[str], *, database_url: str, connections: int, hosts: int) -> str:
    """A config.yaml as a user would write it (JSON is YAML), one product per URL."""
    config = {
        "database": {"url": database_url},
        "http": {"concurrency": connections,
                 "per_host_concurrency": math.ceil(connections / hosts),
                 "per_host_delay": 0, "obey_robots": True},
        "products": [{"id": f"p{i}", "name": f"Product {i}",
                      "offers": [{"url": url, "selector": SELECTOR}]}
                     for i, url in enumerate(urls)],
    }
    return json.dumps(config)  # one line keeps a 100,000-offer file small


@dataclass
class TimedRound:
    setup_seconds: float  # migrations and catalogue sync, before the timed phase
    summary: Summary
    written: int
    dropped: int
    worker_peaks_mb: list[float]  # each extraction worker's VmHWM, read before it exits


async def timed_round(settings: Settings, phase: Phase) -> TimedRound:
    """``service.run_once``, step by step, with the round and the final flush in ``phase``."""
    offers = settings.offers()
    started = time.perf_counter()
    async with open_database(settings) as engine:
        ids = await sync(engine, offers)
        previous = await load_previous(engine, ids)
        setup = time.perf_counter() - started
        writer = CheckWriter(engine)
        phase.start()
        # The phase ends once the workers have exited, so their CPU (RUSAGE_CHILDREN) counts.
        async with make_extractor(settings.model.workers) as extractor:
            async with Fetcher(settings.model.http) as fetcher:
                summary = await run_round(offers, fetcher=fetcher, writer=writer, ids=ids,
                                          previous=previous, keep=0, extractor=extractor)
            await writer.close()
            peaks = worker_peaks(extractor)
        phase.stop()
    return TimedRound(setup, summary, writer.written, writer.dropped, peaks)


def worker_peaks(extractor: object) -> list[float]:
    """The VmHWM (MB) of each worker process of a ProcessExtractor (none for threads)."""
    peaks = []
    for pid in extractor.pids if isinstance(extractor, ProcessExtractor) else []:
        try:
            text = Path(f"/proc/{pid}/status").read_text()
        except OSError:
            continue
        for line in text.splitlines():
            if line.startswith("VmHWM:"):
                peaks.append(int(line.split()[1]) / 1024)
    return peaks


async def run(settings: Settings, phase: Phase) -> int:
    done = await timed_round(settings, phase)
    print(f"pricewatch: start-up (migrations, catalogue sync) {done.setup_seconds:.2f}s; "
          f"{done.summary.line()}", file=sys.stderr)
    return done.written


def _skip_availability_scan() -> None:
    """What extraction would cost if availability were found without scanning the whole tree
    (e.g. scoped to the matched price element's buy box). Bench-only monkeypatch."""
    from pricewatch.extract import availability

    def no_signals(_root: object) -> list[object]:
        return []

    availability.visible_signals = no_signals  # type: ignore[assignment]


def _skip_extraction() -> None:
    """The floor under extraction: fetch, round, writer and loop with a constant answer."""
    from decimal import Decimal

    import pricewatch.extract
    from pricewatch.models import Extraction

    def constant(_text: str, **_kw: object) -> Extraction:
        return Extraction(Decimal("1"), "USD", True, title="t", extractor="selector")

    pricewatch.extract.extract = constant  # type: ignore[assignment]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--urls", required=True)
    parser.add_argument("--db", required=True)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--hosts", type=int, default=20)
    parser.add_argument("--what-if", choices=["no-availability", "no-extract"],
                        help="a projection, never reported as pricewatch's own number: skip "
                        "the whole-page availability scan (the profiled hot spot)")
    args = parser.parse_args(argv)
    if args.what_if == "no-availability":
        _skip_availability_scan()
    elif args.what_if == "no-extract":
        _skip_extraction()
    urls = read_urls(args.urls)
    text = config_text(urls, database_url=f"sqlite:///{args.db}", connections=args.connections,
                       hosts=args.hosts)
    if args.what_if is not None:  # the patches live in this process: extract in its threads
        text = json.dumps(json.loads(text) | {"workers": 0})
    settings = loads(text, file="bench-config.yaml")
    phase = Phase()
    stored = asyncio.run(run(settings, phase))
    report("pricewatch" if args.what_if is None else f"pricewatch/{args.what_if}",
           len(urls), stored, phase)
    return 0


if __name__ == "__main__":
    sys.exit(main())
