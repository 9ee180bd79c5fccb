"""Every pricewatch_* metric, created on an injected CollectorRegistry.

Per-offer series carry ``product`` and ``store`` labels; histograms never carry ``product``
(a histogram per product would multiply series by the bucket count). Series of offers removed
from the config are removed, so /metrics only shows what is configured.
"""

from __future__ import annotations

import platform
from collections.abc import Iterable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pricewatch import __version__
from pricewatch.models import Check, Offer, Outcome

# The *_created samples double the series count for counters and histograms and nobody graphs
# them; the switch is process-wide in prometheus_client, hence here.
disable_created_metrics()  # type: ignore[no-untyped-call]

_CHECK_BUCKETS = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)
_LAG_BUCKETS = (0.01, 0.05, 0.1, 0.5, 1, 5, 15, 60, 300, 900)
_DB_BUCKETS = (0.001, 0.005, 0.01, 0.05, 0.1, 0.5, 1, 5)


class _Offer:
    """One offer's gauge values, made at its first check; None: the series is absent."""

    __slots__ = ("currency", "in_stock", "last_check", "last_ok", "last_success", "price")

    def __init__(self) -> None:
        self.last_check: float | None = None
        self.last_ok: float | None = None
        self.last_success: float | None = None
        self.price: float | None = None
        self.currency: str | None = None
        self.in_stock: float | None = None


_PAIR = ["product", "store"]


class _OfferSeries(Collector):
    """The per-offer gauges, produced at scrape time from the configured offers (labels and
    interval) and one small object per checked offer. Labelled prometheus_client Gauges keep
    a child object, a lock and a value per offer and gauge, many times this object's size: at
    a large catalogue they were most of the daemon's memory (bench/daemon_memory.py reports
    its peak RSS); an offer not checked yet costs nothing here."""

    def __init__(self) -> None:
        self._configured: list[Offer] = []
        self._offers: dict[str, _Offer] = {}

    def configure(self, offers: list[Offer]) -> None:
        self._configured = offers
        wanted = {o.key for o in offers}
        for key in [k for k in self._offers if k not in wanted]:
            del self._offers[key]

    def update(self, offer: Offer, check: Check) -> None:
        entry = self._offers.get(offer.key)
        if entry is None:
            entry = self._offers[offer.key] = _Offer()
        when = check.observed_at.timestamp()
        entry.last_check = when
        ok = check.outcome is Outcome.OK
        entry.last_ok = 1.0 if ok else 0.0
        if not ok or check.price is None:
            return
        entry.last_success = when
        entry.currency = check.currency or "XXX"  # ISO 4217's "no currency"
        entry.price = float(check.price)
        entry.in_stock = None if check.in_stock is None else 1.0 if check.in_stock else 0.0

    def describe(self) -> Iterable[Metric]:
        return self._families()

    def collect(self) -> Iterable[Metric]:
        families = self._families()
        price, in_stock, last_check, last_success, last_ok, interval = families
        entries = self._offers
        for offer in self._configured:
            pair = [offer.product_id, offer.store]
            interval.add_metric(pair, offer.interval)
            e = entries.get(offer.key)
            if e is None:
                continue
            if e.last_check is not None:
                last_check.add_metric(pair, e.last_check)
            if e.last_ok is not None:
                last_ok.add_metric(pair, e.last_ok)
            if e.last_success is not None:
                last_success.add_metric(pair, e.last_success)
            if e.price is not None and e.currency is not None:
                price.add_metric([offer.product_id, offer.store, e.currency], e.price)
            if e.in_stock is not None:
                in_stock.add_metric(pair, e.in_stock)
        return families

    @staticmethod
    def _families() -> list[GaugeMetricFamily]:
        return [
            GaugeMetricFamily("pricewatch_price", "Last price found, in the offer's currency.",
                              labels=["product", "store", "currency"]),
            GaugeMetricFamily("pricewatch_in_stock",
                              "1 if the last successful check saw the offer in stock, 0 if out "
                              "of stock (absent when unknown).", labels=_PAIR),
            GaugeMetricFamily("pricewatch_last_check_timestamp_seconds",
                              "Unix time of the offer's last check, failed or not.",
                              labels=_PAIR),
            GaugeMetricFamily("pricewatch_last_success_timestamp_seconds",
                              "Unix time of the offer's last check that found a price.",
                              labels=_PAIR),
            GaugeMetricFamily("pricewatch_last_check_ok",
                              "1 if the offer's last check found a price, else 0.", labels=_PAIR),
            GaugeMetricFamily("pricewatch_offer_interval_seconds",
                              "Configured time between two checks of the offer.", labels=_PAIR),
        ]


class Metrics:
    """The process's metrics; tests read them with ``registry.get_sample_value``."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.registry = registry
        r = registry
        self._offer_series = _OfferSeries()
        r.register(self._offer_series)
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
                                    "still running (overlap), the run was later than "
                                    "misfire_grace_time (misfire), or, in cluster mode, the "
                                    "slot was stored already (done) or its offer removed by a "
                                    "reload (removed).", ["reason"], registry=r)
        self.checks_skipped = Counter("pricewatch_checks_skipped",
                                      "Scheduled checks not made because their host could not "
                                      "keep up (host_backlog).", ["host", "reason"], registry=r)
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

    def configure(self, offers: list[Offer]) -> None:
        """Publish the configured offers; forget the series of offers no longer configured."""
        self._offer_series.configure(offers)
        self.offers.set(len(offers))

    def observe_check(self, offer: Offer, check: Check, *, gauges: bool = True) -> None:
        """A check just made: count it and (``gauges``: the offer is still configured) update
        the offer's gauges."""
        self.checks.labels(offer.store, check.outcome.value).inc()
        self.check_duration.labels(offer.store).observe(check.duration_ms / 1000)
        if gauges:
            self.restore(offer, check)

    def restore(self, offer: Offer, check: Check) -> None:
        """Set the offer's gauges from a stored check (at start-up) without counting it."""
        self._offer_series.update(offer, check)

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
