"""Every pricewatch_* metric, created on an injected CollectorRegistry.

Per-offer series carry ``product`` and ``store`` labels; histograms never carry ``product``
(a histogram per product would multiply series by the bucket count). Series of offers removed
from the config are removed, so /metrics only shows what is configured.
"""

from __future__ import annotations

import contextlib
import platform
from dataclasses import dataclass

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from pricewatch import __version__
from pricewatch.models import Check, Offer, Outcome

# The *_created samples double the series count for counters and histograms and nobody graphs
# them; the switch is process-wide in prometheus_client, hence here.
disable_created_metrics()  # type: ignore[no-untyped-call]

_CHECK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900)
_DB_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)


@dataclass(frozen=True, slots=True)
class _OfferLabels:
    product: str
    store: str
    currency: str | None = None


class Metrics:
    """The process's metrics; tests read them with ``registry.get_sample_value``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self.price = Gauge("pricewatch_price", "Last price found, in the offer's currency.",
                           ["product", "store", "currency"], registry=r)
        self.in_stock = Gauge("pricewatch_in_stock",
                              "1 if the last successful check saw the offer in stock, 0 if out "
                              "of stock (absent when unknown).", ["product", "store"], registry=r)
        self.last_check = Gauge("pricewatch_last_check_timestamp_seconds",
                                "Unix time of the offer's last check, failed or not.",
                                ["product", "store"], registry=r)
        self.last_success = Gauge("pricewatch_last_success_timestamp_seconds",
                                  "Unix time of the offer's last check that found a price.",
                                  ["product", "store"], registry=r)
        self.last_ok = Gauge("pricewatch_last_check_ok",
                             "1 if the offer's last check found a price, else 0.",
                             ["product", "store"], registry=r)
        self.interval = Gauge("pricewatch_offer_interval_seconds",
                              "Configured time between two checks of the offer.",
                              ["product", "store"], registry=r)
        self.checks = Counter("pricewatch_checks", "Checks by store and outcome.",
                              ["store", "outcome"], registry=r)
        self.check_duration = Histogram("pricewatch_check_duration_seconds",
                                        "Time for one check (fetch and extraction).",
                                        ["store"], buckets=_CHECK_BUCKETS, registry=r)
        self.retries = Counter("pricewatch_fetch_retries", "Requests retried, by host and reason.",
                               ["host", "reason"], registry=r)
        self.robots_blocked = Counter("pricewatch_robots_blocked",
                                      "Checks not made because robots.txt disallows them.",
                                      ["host"], registry=r)
        self.host_paused = Counter("pricewatch_host_paused_checks",
                                   "Checks skipped without a request because the host's "
                                   "circuit breaker is open.", ["host"], registry=r)
        self.scheduler_lag = Histogram("pricewatch_scheduler_lag_seconds",
                                       "How late a scheduled check started.",
                                       buckets=_LAG_BUCKETS, registry=r)
        self.runs_dropped = Counter("pricewatch_scheduler_dropped_runs",
                                    "Scheduled checks not made: the offer's previous check was "
                                    "still running (overlap), or the run was later than "
                                    "misfire_grace_time (misfire).", ["reason"], registry=r)
        self.jobs_running = Gauge("pricewatch_jobs_running", "Checks in progress.", registry=r)
        self.offers = Gauge("pricewatch_offers_configured", "Active offers in the config.",
                            registry=r)
        self.db_write = Histogram("pricewatch_db_write_seconds",
                                  "Time to write one batch of checks.", buckets=_DB_BUCKETS,
                                  registry=r)
        self.db_rows = Counter("pricewatch_db_rows_written", "Check rows written.", registry=r)
        self.db_buffered = Gauge("pricewatch_db_buffered_checks",
                                 "Checks waiting in memory to be written.", registry=r)
        self.db_dropped = Gauge("pricewatch_db_dropped_checks",
                                "Checks lost because the write buffer overflowed.", registry=r)
        self.db_up = Gauge("pricewatch_db_up", "1 if the last database write succeeded.",
                           registry=r)
        self.reload_failures = Counter("pricewatch_config_reload_failures",
                                       "Config reloads rejected as invalid.", registry=r)
        self.reload_success = Gauge("pricewatch_config_last_reload_success_timestamp_seconds",
                                    "Unix time the config was last loaded successfully.",
                                    registry=r)
        self.build_info = Gauge("pricewatch_build_info", "Always 1; labels say what runs.",
                                ["version", "python"], registry=r)
        self.build_info.labels(__version__, platform.python_version()).set(1)
        self.db_up.set(1)
        self._labels: dict[str, _OfferLabels] = {}

    def configure(self, offers: list[Offer]) -> None:
        """Publish the configured offers; forget the series of offers no longer configured."""
        wanted = {o.key: o for o in offers}
        for key in list(self._labels):
            if key not in wanted:
                self._forget(key)
        for offer in offers:
            self._labels.setdefault(offer.key, _OfferLabels(offer.product_id, offer.store))
            self.interval.labels(offer.product_id, offer.store).set(offer.interval)
        self.offers.set(len(offers))

    def _forget(self, key: str) -> None:
        labels = self._labels.pop(key)
        pair = (labels.product, labels.store)
        for gauge in (self.in_stock, self.last_check, self.last_success, self.last_ok,
                      self.interval):
            _remove(gauge, *pair)
        if labels.currency is not None:
            _remove(self.price, *pair, labels.currency)

    def observe_check(self, offer: Offer, check: Check) -> None:
        """A check just made: count it and update the offer's gauges."""
        self.checks.labels(offer.store, check.outcome.value).inc()
        self.check_duration.labels(offer.store).observe(check.duration_ms / 1000)
        self.restore(offer, check)

    def restore(self, offer: Offer, check: Check) -> None:
        """Set the offer's gauges from a stored check (at start-up) without counting it."""
        product, store = offer.product_id, offer.store
        when = check.observed_at.timestamp()
        self.last_check.labels(product, store).set(when)
        ok = check.outcome is Outcome.OK
        self.last_ok.labels(product, store).set(1 if ok else 0)
        if not ok or check.price is None:
            return
        self.last_success.labels(product, store).set(when)
        currency = check.currency or "XXX"  # ISO 4217's "no currency"
        labels = self._labels.get(offer.key)
        if labels is not None and labels.currency not in (None, currency):
            _remove(self.price, product, store, labels.currency)  # the shop changed currency
        self._labels[offer.key] = _OfferLabels(product, store, currency)
        self.price.labels(product, store, currency).set(float(check.price))
        if check.in_stock is None:
            _remove(self.in_stock, product, store)
        else:
            self.in_stock.labels(product, store).set(1 if check.in_stock else 0)

    # FetchObserver: the fetcher reports what politeness cost.
    def on_retry(self, host: str, reason: str) -> None:
        self.retries.labels(host, reason).inc()

    def on_robots_blocked(self, host: str) -> None:
        self.robots_blocked.labels(host).inc()

    def on_host_paused(self, host: str) -> None:
        self.host_paused.labels(host).inc()

    def observe_write(self, rows: int, seconds: float) -> None:
        self.db_write.observe(seconds)
        self.db_rows.inc(rows)


def _remove(metric: Gauge, *labels: str) -> None:
    with contextlib.suppress(KeyError):  # never set: nothing to remove
        metric.remove(*labels)
