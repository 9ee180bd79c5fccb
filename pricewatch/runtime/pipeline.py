"""One check of one offer: fetch -> extract -> a Check (always; failures too).

Storing, alerting and metrics are the caller's: this module turns an offer into a result and
never raises for anything a web page can do.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from pricewatch.errors import WorkerError
from pricewatch.models import Check, Extraction, FetchResult, Offer, Outcome, Previous
from pricewatch.runtime.workers import page_bytes

if TYPE_CHECKING:
    from pricewatch.fetch import Fetcher
    from pricewatch.runtime.workers import Extractor

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class CheckResult:
    check: Check
    etag: str | None = None
    last_modified: str | None = None


Clock = Callable[[], datetime]


def utcnow() -> datetime:
    return datetime.now(UTC)


async def check_offer(
    offer: Offer,
    fetcher: Fetcher,
    *,
    previous: Previous | None = None,
    clock: Clock = utcnow,
    extractor: Extractor | None = None,
) -> CheckResult:
    """Run one check; every path ends in a Check with an outcome. With ``extractor``, the page
    is parsed and searched there (worker processes or threads) instead of in the event loop."""
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
        if extractor is not None and fetched.outcome is Outcome.OK and not fetched.not_modified:
            # Off the loop: parse cost in the loop once gave 1.6 s of loop lag and false
            # timeouts; in worker processes it also runs on the other cores. While the page
            # waits for a worker it is held once, as bytes: with every connection's page
            # queued that is tens of MB less at the peak (bench/scale.py).
            page = page_bytes(fetched.text)
            fetched = replace(fetched, text="")
            found = await extractor.extract(page, url=fetched.url, spec=offer.extract)
        check = _to_check(offer, fetched, observed_at, started, previous, found=found)
    except WorkerError as exc:  # the extractor logged it; the worker is being replaced
        check = Check(offer.key, observed_at, Outcome.ERROR, http_status=fetched.status,
                      duration_ms=_ms(started), error=str(exc)[:500])
        return CheckResult(check)
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
                       evidence=last.evidence, unchanged=True, duration_ms=_ms(started))
    if fetched.outcome is not Outcome.OK:
        return replace(base, outcome=fetched.outcome, error=fetched.error,
                       duration_ms=_ms(started))
    if found is None:
        # Imported here: with worker processes this process never parses a page, and
        # selectolax's import and the extractors' tables stay out of it.
        from pricewatch.extract import extract

        found = extract(fetched.text, url=fetched.url, spec=offer.extract)
    if found.price is None:
        return replace(base, in_stock=found.in_stock, title=found.title,
                       extractor=found.extractor, error=found.error or "no price found",
                       evidence=found.evidence, duration_ms=_ms(started))
    return replace(base, outcome=Outcome.OK, price=found.price, currency=found.currency,
                   in_stock=found.in_stock, title=found.title, extractor=found.extractor,
                   image=found.image, evidence=found.evidence, duration_ms=_ms(started))


def _ms(started: float) -> int:
    return int((time.perf_counter() - started) * 1000)
