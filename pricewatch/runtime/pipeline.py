"""One check of one offer: fetch -> extract -> a Check (always; failures too).

Storing, alerting and metrics are the caller's: this module turns an offer into a result and
never raises for anything a web page can do.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from functools import partial

from pricewatch.extract import extract
from pricewatch.fetch import Fetcher
from pricewatch.models import Check, Extraction, FetchResult, Offer, Outcome, Previous

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    etag: str | None = None
    last_modified: str | None = None


Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


def extract_pool(threads: int | None = None) -> ThreadPoolExecutor | None:
    """Threads for parsing pages (None: one per core, at most 4; 0: no pool, parse in the
    event loop). Lexbor (and lxml, for XPath rules) parses with the GIL released, so the
    loop keeps serving sockets meanwhile. ``python -m bench.throughput --contenders
    pricewatch,pricewatch-inloop`` measures the pool against parsing in the loop."""
    count = min(4, os.cpu_count() or 1) if threads is None else threads
    return ThreadPoolExecutor(count, thread_name_prefix="extract") if count else None


async def check_offer(
    offer: Offer,
    fetcher: Fetcher,
    *,
    previous: Previous | None = None,
    clock: Clock = utcnow,
    executor: Executor | None = None,
) -> CheckResult:
    """Run one check; every path ends in a Check with an outcome. With ``executor``, the page
    is parsed and searched there instead of in the event loop."""
    observed_at = clock()
    started = time.perf_counter()
    try:
        fetched = await fetcher.fetch(
            offer.url,
            offer.fetch,
            etag=previous.etag if previous and previous.check else None,
            last_modified=previous.last_modified if previous and previous.check else None,
        )
        found = None
        if executor is not None and fetched.outcome is Outcome.OK and not fetched.not_modified:
            # Lexbor parses with the GIL released: in a worker thread that work
            # leaves the event loop free for the other requests' I/O (no loop lag, no false
            # timeouts) and can use a second core, without the pickling a process pool costs.
            found = await asyncio.get_running_loop().run_in_executor(
                executor, partial(extract, fetched.text, url=fetched.url, spec=offer.extract))
        check = _to_check(offer, fetched, observed_at, started, previous, found=found)
    except Exception as exc:
        log.exception("check of %s failed unexpectedly", offer.key)
        check = Check(offer.key, observed_at, Outcome.ERROR,
                      duration_ms=_ms(started), error=f"internal error: {exc!r}"[:500])
        return CheckResult(check)
    return CheckResult(check, etag=fetched.etag, last_modified=fetched.last_modified)


def _to_check(
    offer: Offer,
    fetched: FetchResult,
    observed_at: datetime,
    started: float,
    previous: Previous | None,
    *,
    found: Extraction | None = None,
) -> Check:
    base = Check(offer.key, observed_at, Outcome.NO_PRICE, http_status=fetched.status,
                 attempts=fetched.attempts)
    if fetched.not_modified and previous is not None and previous.check is not None:
        last = previous.check
        return replace(base, outcome=Outcome.OK, price=last.price, currency=last.currency,
                       in_stock=last.in_stock, extractor=last.extractor, title=last.title,
                       unchanged=True, duration_ms=_ms(started))
    if fetched.outcome is not Outcome.OK:
        return replace(base, outcome=fetched.outcome, error=fetched.error,
                       duration_ms=_ms(started))
    if found is None:
        found = extract(fetched.text, url=fetched.url, spec=offer.extract)
    if found.price is None:
        return replace(base, in_stock=found.in_stock, title=found.title,
                       extractor=found.extractor, error=found.error or "no price found",
                       duration_ms=_ms(started))
    return replace(base, outcome=Outcome.OK, price=found.price, currency=found.currency,
                   in_stock=found.in_stock, title=found.title, extractor=found.extractor,
                   image=found.image, duration_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
