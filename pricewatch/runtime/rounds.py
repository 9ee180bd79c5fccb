"""A check round: every given offer checked once, results written through the batching writer.

Offers are grouped into one lane per host, with as many workers as the host may have requests
in flight; so a round of 100,000 offers runs a few hundred tasks, not 100,000, and a slow host
only ever occupies its own lane.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import defaultdict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from pricewatch.alerts import Alert
from pricewatch.config import Settings
from pricewatch.db.database import load_previous, open_database, sync
from pricewatch.db.writer import CheckWriter
from pricewatch.fetch import Fetcher
from pricewatch.models import Offer, Previous
from pricewatch.runtime.pipeline import CheckResult, check_offer
from pricewatch.runtime.recorder import Recorder, Summary, recording, require_browser
from pricewatch.runtime.workers import Extractor, make_extractor

log = logging.getLogger(__name__)


async def run_round(
    offers: Sequence[Offer],
    *,
    fetcher: Fetcher,
    writer: CheckWriter | None = None,
    ids: Mapping[str, int] | None = None,
    recorder: Recorder | None = None,
    previous: Mapping[str, Previous] | None = None,
    on_check: Callable[[Offer, CheckResult], None] | None = None,
    extractor: Extractor | None = None,
    keep: int | None = None,
) -> Summary:
    """Check every offer once; each result goes through ``recorder`` (or a plain one on
    ``writer`` and ``ids``) as soon as it exists, so rows are written while the round runs.

    Pages are parsed by ``extractor`` (a started one, see ``runtime.workers``; None: in the
    event loop). The summary holds up to ``keep`` checks (None: all).
    """
    started = time.perf_counter()
    if recorder is None:
        if writer is None or ids is None:
            raise TypeError("run_round needs a recorder, or a writer and ids")
        recorder = Recorder(writer, ids, keep=keep, on_check=on_check)
    # A long round streams its rows in batches instead of holding them all until the caller
    # closes the writer (and, past max_buffer, dropping the oldest). Idempotent.
    recorder.writer.start()
    lanes: dict[str, list[Offer]] = defaultdict(list)
    for offer in offers:
        lanes[(urlsplit(offer.url).hostname or "").lower()].append(offer)

    async def worker(queue: list[Offer]) -> None:
        while queue:
            offer = queue.pop()
            result = await check_offer(offer, fetcher, previous=(previous or {}).get(offer.key),
                                       extractor=extractor)
            recorder.record(offer, result)

    tasks: list[asyncio.Task[None]] = []
    for lane in lanes.values():
        lane.reverse()  # pop() from the end keeps the config's order
        workers = max(1, min(len(lane), lane[0].fetch.per_host_concurrency))
        tasks.extend(asyncio.create_task(worker(lane)) for _ in range(workers))
    await asyncio.gather(*tasks)
    summary = recorder.summary
    summary.seconds = time.perf_counter() - started
    return summary


@dataclass
class OnceResult:
    summary: Summary
    written: int
    alerts: list[Alert] = field(default_factory=list)


async def run_once(
    settings: Settings,
    *,
    on_check: Callable[[Offer, CheckResult], None] | None = None,
    keep: int | None = None,
) -> OnceResult:
    """`pricewatch once`: check every active offer one time and store every check; alerts are
    judged as their checks are stored. ``keep`` bounds how many checks the returned summary
    holds (None: all)."""
    require_browser(settings)  # before the database: a refusal changes nothing
    offers = settings.offers()
    by_key = {o.key: o for o in offers}
    raised: list[Alert] = []
    # The workers start first: they import the extractors while the database is prepared.
    async with make_extractor(settings.model.workers) as extractor, \
            open_database(settings) as engine:
        ids = await sync(engine, offers)
        previous = await load_previous(engine, ids)
        async with recording(settings, engine, ids, offer_of=by_key.get, keep=keep,
                             on_check=on_check, raised=raised, alert_grace=30.0,
                             extractor=extractor) as parts:
            summary = await run_round(offers, fetcher=parts.fetcher, recorder=parts.recorder,
                                      previous=previous, extractor=parts.extractor)
        written = parts.writer.written
    log.info("round done: %s", summary.line())
    return OnceResult(summary, written, raised)
