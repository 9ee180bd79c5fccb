"""Recording checks, the one way ``once`` and the daemon share; they differ only in *when*
checks run (a round now, or scheduled slots).

``recording()`` starts what a check needs and what happens to it afterwards, and stops them in
order: the fetcher and the extraction threads; the batching writer; the alert service and the
feed that judges each check once it is stored. ``Recorder.record`` is the one place a result
becomes a row, a metric sample, a summary count and (after the write) an alert judgement.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncEngine

from pricewatch.alerts import Alert
from pricewatch.alerts.dispatch import Claim
from pricewatch.alerts.feed import AlertFeed
from pricewatch.alerts.service import AlertService
from pricewatch.config import Settings
from pricewatch.db.repository import PendingCheck
from pricewatch.db.writer import CheckWriter
from pricewatch.fetch import Fetcher
from pricewatch.fetch.browser.locate import preflight
from pricewatch.models import Check, Offer, Outcome, Previous
from pricewatch.runtime.metrics import Metrics
from pricewatch.runtime.pipeline import CheckResult, utcnow
from pricewatch.runtime.workers import Extractor, make_extractor

log = logging.getLogger(__name__)

WRITE_GRACE = 10.0  # at the end: time to write what is buffered
ALERT_GRACE = 10.0  # at the end: time to judge the last checks and deliver due alerts


@dataclass
class Summary:
    """Outcome counts, and the checks up to ``keep`` (None: all of them); a round of 100,000
    offers need not hold 100,000 checks in memory to report its totals."""

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

    def counts(self) -> str:
        parts = ", ".join(f"{o.value} {n}" for o, n in sorted(self.outcomes.items()))
        return f"{self.total} checks ({parts or 'none'})"

    def line(self) -> str:
        parts = ", ".join(f"{o.value} {n}" for o, n in sorted(self.outcomes.items()))
        return f"{self.total} checks in {self.seconds:.1f}s: {parts or 'nothing to check'}"


@dataclass
class OfferState:
    """What the daemon remembers per offer: the newest check (status page, scheduling) and the
    last good one with its validators (conditional requests, the shown price)."""

    latest: dict[str, Check] = field(default_factory=dict)
    previous: dict[str, Previous] = field(default_factory=dict)


class Recorder:
    """Turns each result into a row, metrics, summary counts and (via the writer's flush
    callback) an alert judgement."""

    def __init__(
        self,
        writer: CheckWriter,
        ids: Mapping[str, int],
        *,
        metrics: Metrics | None = None,
        keep: int | None = None,
        state: OfferState | None = None,
        configured: Callable[[str], bool] | None = None,
        on_check: Callable[[Offer, CheckResult], None] | None = None,
    ) -> None:
        self.writer = writer
        self.ids = ids  # replaced on reload
        self.summary = Summary(keep=keep)
        self.window = Summary(keep=0)  # since the last take_window()
        self.state = state
        self._metrics = metrics
        self._configured = configured  # False: removed by a reload while it ran
        self._on_check = on_check

    def record(self, offer: Offer, result: CheckResult, *, offer_id: int | None = None,
               slot: int | None = None) -> None:
        """Record one check. ``offer_id`` is the id the check started with: a reload may have
        removed the offer meanwhile, and its check is still a row; ``slot``: the cluster
        slot it was planned for."""
        check = result.check
        oid = self.ids.get(offer.key) if offer_id is None else offer_id
        if oid is not None:
            self.writer.add(PendingCheck(oid, check, result.etag, result.last_modified, slot))
        else:
            log.error("check of %s has no offer id; not stored", offer.key)
        if self.state is not None:
            self.state.latest[offer.key] = check
            if check.outcome is Outcome.OK:
                self.state.previous[offer.key] = Previous(result.etag, result.last_modified,
                                                          check)
        if self._metrics is not None:
            current = self._configured is None or self._configured(offer.key)
            self._metrics.observe_check(offer, check, gauges=current)
        self.summary.add(check)
        self.window.add(check)
        log.debug("checked %s: %s %s %s", offer.key, check.outcome.value,
                  check.price if check.price is not None else "-", check.error or "",
                  extra={"offer": offer.key, "outcome": check.outcome.value,
                         "price": None if check.price is None else str(check.price),
                         "currency": check.currency, "duration_ms": check.duration_ms})
        if self._on_check is not None:
            self._on_check(offer, result)

    def cancelled(self, offer: Offer, started: datetime, *, offer_id: int | None = None,
                  reason: str = "cancelled by shutdown", slot: int | None = None) -> None:
        """Record a check that was cut short: it started, so it has a row."""
        ms = int((utcnow() - started).total_seconds() * 1000)
        self.record(offer, CheckResult(Check(offer.key, started, Outcome.CANCELLED,
                                             duration_ms=max(ms, 0), error=reason)),
                    offer_id=offer_id, slot=slot)

    def take_window(self) -> Summary:
        window, self.window = self.window, Summary(keep=0)
        return window


@dataclass
class Recording:
    """The started parts a check runs through and is recorded by."""

    fetcher: Fetcher
    extractor: Extractor
    writer: CheckWriter
    alerts: AlertService
    feed: AlertFeed
    recorder: Recorder


@asynccontextmanager
async def recording(
    settings: Settings,
    engine: AsyncEngine,
    ids: Mapping[str, int],
    *,
    offer_of: Callable[[str], Offer | None],
    metrics: Metrics | None = None,
    keep: int | None = 0,
    state: OfferState | None = None,
    on_check: Callable[[Offer, CheckResult], None] | None = None,
    extractor: Extractor | None = None,
    raised: list[Alert] | None = None,
    alert_grace: float = ALERT_GRACE,
    delivery: tuple[Claim, float] | None = None,
) -> AsyncIterator[Recording]:
    """Start fetcher, extractor (``extractor``, started by the caller, or one of the config's
    ``workers`` started here), writer and alerts; the recorder's summary holds up to ``keep``
    checks (None: all; by default none, as a daemon's or a replica's run counts its checks
    but must not hold every one it ever made). On leaving, write what is left,
    judge it, deliver due alerts (each bounded by its grace) and stop them. ``offer_of`` is the
    current config's offer for a key (None once a reload removed it); alerts raised are
    appended to ``raised``; ``delivery``: (the claim, poll seconds) of a cluster replica, which
    delivers alerts only while it holds the claim."""
    claim, poll = delivery if delivery is not None else (None, 30.0)
    alerts = AlertService(settings, engine, grace=alert_grace,
                          registry=None if metrics is None else metrics.registry,
                          claim=claim, poll_interval=poll)
    feed = AlertFeed(alerts, offer_of, raised=raised)
    writer = CheckWriter(engine, on_flushed=feed.stored,
                         on_write=None if metrics is None else metrics.observe_write)
    recorder = Recorder(writer, ids, metrics=metrics, keep=keep, state=state,
                        configured=lambda key: offer_of(key) is not None, on_check=on_check)
    async with contextlib.AsyncExitStack() as stack:
        if extractor is None:  # parsing off the event loop, on every core (runtime.workers)
            extractor = await stack.enter_async_context(make_extractor(settings.model.workers))
        fetcher = await stack.enter_async_context(
            Fetcher(settings.model.http, observer=metrics, browser=settings.model.browser,
                    screenshots=settings.screenshots))
        await alerts.__aenter__()
        writer.start()
        judging = asyncio.create_task(feed.run(), name="alert-feed")
        try:
            yield Recording(fetcher, extractor, writer, alerts, feed, recorder)
        finally:
            await writer.close(grace=WRITE_GRACE)
            feed.finish()  # judge what the last flush stored, then let alerts deliver
            try:
                await asyncio.wait_for(judging, timeout=alert_grace)
            except TimeoutError:
                log.warning("alerts for %d stored checks not judged within %.0fs",
                            feed.pending, alert_grace)
            except Exception as exc:
                log.error("alert judging stopped with an error: %s", _brief(exc))
            # The rows are written by now: an alert part that failed must not turn the
            # end of the run into a traceback (undelivered alerts stay in the database).
            try:
                await alerts.__aexit__(None, None, None)
            except Exception as exc:
                log.error("alert delivery stopped with an error: %s", _brief(exc))


def needs_browser(settings: Settings) -> bool:
    return any(o.fetch.browser is not None for o in settings.offers())


def require_browser(settings: Settings) -> None:
    """Raise BrowserUnavailable (naming the setting) when offers use ``fetcher: browser`` and
    no browser could start: better a clear refusal than every such check failing."""
    if needs_browser(settings):
        preflight(settings.model.browser)


def _brief(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {lines[0][:300] if lines else ''}".rstrip(": ")
