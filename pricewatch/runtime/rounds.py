"""A check round: every given offer checked once, results written through the batching writer.

Offers are grouped into one lane per host, with as many workers as the host may have requests
in flight; so a round of 100,000 offers runs a few hundred tasks, not 100,000, and a slow host
only ever occupies its own lane.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pricewatch.alerts import Alert
from pricewatch.alerts.service import AlertService
from pricewatch.config import Settings
from pricewatch.db.database import load_previous, open_database, sync
from pricewatch.db.repository import PendingCheck
from pricewatch.db.writer import CheckWriter
from pricewatch.fetch import Fetcher
from pricewatch.models import Check, Offer, Outcome, Previous
from pricewatch.runtime.pipeline import CheckResult, check_offer
from pricewatch.runtime.workers import Extractor, make_extractor

log = logging.getLogger(__name__)


@dataclass
class RoundSummary:
    """Outcome counts of a round, and its checks up to ``keep`` (None: all of them); a round
    of 100,000 offers need not hold 100,000 checks in memory to report its totals."""

    keep: int | None = None
    checks: list[Check] = field(default_factory=list)
    outcomes: Counter[Outcome] = field(default_factory=Counter)
    seconds: float = 0.0

    def add(self, check: Check) -> None:
        self.outcomes[check.outcome] += 1
        if self.keep is None or len(self.checks) < self.keep:
            self.checks.append(check)

    @property
    def total(self) -> int:
        return sum(self.outcomes.values())

    def line(self) -> str:
        parts = ", ".join(f"{o.value} {n}" for o, n in sorted(self.outcomes.items()))
        return f"{self.total} checks in {self.seconds:.1f}s: {parts or 'nothing to check'}"


async def run_round(
    offers: Sequence[Offer],
    *,
    fetcher: Fetcher,
    writer: CheckWriter,
    ids: Mapping[str, int],
    previous: Mapping[str, Previous] | None = None,
    on_check: Callable[[Offer, CheckResult], None] | None = None,
    extractor: Extractor | None = None,
    keep: int | None = None,
) -> RoundSummary:
    """Check every offer once; each result is queued on ``writer`` as soon as it exists.

    Pages are parsed by ``extractor`` (a started one, see ``runtime.workers``; None: in the
    event loop). The summary holds up to ``keep`` checks (None: all).
    """
    started = time.perf_counter()
    # A long round streams its rows in batches instead of holding them all until the caller
    # closes the writer (and, past max_buffer, dropping the oldest). Idempotent.
    writer.start()
    summary = RoundSummary(keep=keep)
    lanes: dict[str, list[Offer]] = defaultdict(list)
    for offer in offers:
        lanes[(urlsplit(offer.url).hostname or "").lower()].append(offer)

    async def worker(queue: list[Offer]) -> None:
        while queue:
            offer = queue.pop()
            result = await check_offer(offer, fetcher, previous=(previous or {}).get(offer.key),
                                       extractor=extractor)
            summary.add(result.check)
            writer.add(PendingCheck(ids[offer.key], result.check, result.etag,
                                    result.last_modified))
            if on_check is not None:
                on_check(offer, result)

    tasks: list[asyncio.Task[None]] = []
    for lane in lanes.values():
        lane.reverse()  # pop() from the end keeps the config's order
        workers = max(1, min(len(lane), lane[0].fetch.per_host_concurrency))
        tasks.extend(asyncio.create_task(worker(lane)) for _ in range(workers))
    await asyncio.gather(*tasks)
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class OnceResult:
    summary: RoundSummary
    written: int
    alerts: list[Alert] = field(default_factory=list)


async def run_once(
    settings: Settings,
    *,
    on_check: Callable[[Offer, CheckResult], None] | None = None,
    keep: int | None = None,
) -> OnceResult:
    """`pricewatch once`: check every active offer one time and store every check.
    ``keep`` bounds how many checks the returned summary holds (None: all)."""
    offers = settings.offers()
    # The workers start first: they import the extractors while the database is prepared.
    async with make_extractor(settings.model.workers) as extractor, \
            open_database(settings) as engine:
        ids = await sync(engine, offers)
        previous = await load_previous(engine, ids)
        writer = CheckWriter(engine)
        judged: list[tuple[Offer, Check]] = []

        async with AlertService(settings, engine) as alerts:

            def collect(offer: Offer, result: CheckResult) -> None:
                if alerts.wants(offer):
                    judged.append((offer, result.check))
                if on_check is not None:
                    on_check(offer, result)

            async with Fetcher(settings.model.http) as fetcher:
                summary = await run_round(offers, fetcher=fetcher, writer=writer, ids=ids,
                                          previous=previous, on_check=collect, keep=keep,
                                          extractor=extractor)
            await writer.close()
            raised = await alerts.process_many(judged)  # after the write: history is complete
    log.info("round done: %s", summary.line())
    return OnceResult(summary, writer.written, raised)
