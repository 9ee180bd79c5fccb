"""Metrics follow the checks and the config: values, removal, no price from failures."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from decimal import Decimal

from prometheus_client import CollectorRegistry, generate_latest

from pricewatch.cli import logs
from pricewatch.models import Check, ExtractSpec, FetchOptions, Offer, Outcome
from pricewatch.runtime.metrics import Metrics

NOW = datetime(2026, 3, 1, tzinfo=UTC)


def offer(product: str, store: str = "shop") -> Offer:
    return Offer(product, product.title(), store, f"http://{store}/{product}", ExtractSpec(),
                 FetchOptions(user_agent="t"), interval=3600)


def sample(m: Metrics, name: str, **labels: str) -> float | None:
    return m.registry.get_sample_value(name, labels)


def test_ok_check_sets_price_stock_and_timestamps() -> None:
    """An ok check publishes price (with currency), stock and both timestamps."""
    m = Metrics(CollectorRegistry())
    a = offer("kettle")
    m.configure([a])
    m.observe_check(a, Check(a.key, NOW, Outcome.OK, price=Decimal("19.99"), currency="EUR",
                             in_stock=False, duration_ms=120))
    assert sample(m, "pricewatch_price", product="kettle", store="shop", currency="EUR") == 19.99
    assert sample(m, "pricewatch_in_stock", product="kettle", store="shop") == 0
    assert sample(m, "pricewatch_last_success_timestamp_seconds", product="kettle",
                  store="shop") == NOW.timestamp()
    assert sample(m, "pricewatch_checks_total", store="shop", outcome="ok") == 1
    assert sample(m, "pricewatch_check_duration_seconds_count", store="shop") == 1
    assert sample(m, "pricewatch_offer_interval_seconds", product="kettle", store="shop") == 3600


def test_failed_check_keeps_the_last_price() -> None:
    """A failed check counts and stamps last_check, but never changes or zeroes the price."""
    m = Metrics(CollectorRegistry())
    a = offer("kettle")
    m.configure([a])
    m.observe_check(a, Check(a.key, NOW, Outcome.OK, price=Decimal("5"), currency="USD"))
    later = NOW.replace(hour=1)
    m.observe_check(a, Check(a.key, later, Outcome.BLOCKED, error="captcha"))
    assert sample(m, "pricewatch_price", product="kettle", store="shop", currency="USD") == 5
    assert sample(m, "pricewatch_last_check_ok", product="kettle", store="shop") == 0
    assert sample(m, "pricewatch_last_check_timestamp_seconds", product="kettle",
                  store="shop") == later.timestamp()
    assert sample(m, "pricewatch_last_success_timestamp_seconds", product="kettle",
                  store="shop") == NOW.timestamp()


def test_removed_offers_leave_metrics_and_currency_changes_replace() -> None:
    """Unconfigured offers lose every per-offer series; a new currency replaces the old one."""
    m = Metrics(CollectorRegistry())
    a, b = offer("kettle"), offer("lamp")
    m.configure([a, b])
    for o in (a, b):
        m.observe_check(o, Check(o.key, NOW, Outcome.OK, price=Decimal("3"), currency="USD",
                                 in_stock=True))
    m.observe_check(a, Check(a.key, NOW, Outcome.OK, price=Decimal("4"), currency="EUR",
                             in_stock=None))
    assert sample(m, "pricewatch_price", product="kettle", store="shop", currency="USD") is None
    assert sample(m, "pricewatch_price", product="kettle", store="shop", currency="EUR") == 4
    assert sample(m, "pricewatch_in_stock", product="kettle", store="shop") is None  # unknown
    m.configure([a])
    text = generate_latest(m.registry).decode()
    assert 'product="lamp"' not in text
    assert 'product="kettle"' in text
    assert sample(m, "pricewatch_offers_configured") == 1
    assert "_created" not in text


def test_json_log_lines() -> None:
    """--log-format json writes one parseable object per line with the extra fields."""
    formatter = logs.JsonFormatter()
    record = logging.makeLogRecord({"name": "pricewatch.runtime.daemon", "levelno": logging.INFO,
                                    "levelname": "INFO", "msg": "checked %s",
                                    "args": ("kettle@shop",), "offer": "kettle@shop"})
    entry = json.loads(formatter.format(record))
    assert entry["message"] == "checked kettle@shop"
    assert entry["offer"] == "kettle@shop"
    assert entry["level"] == "info"


def test_fetch_observer_counts() -> None:
    """Retries, robots blocks and paused-host checks reported by the fetcher are counted."""
    m = Metrics(CollectorRegistry())
    m.on_retry("shop.example", "timeout")
    m.on_retry("shop.example", "timeout")
    m.on_robots_blocked("shop.example")
    m.on_host_paused("dead.example")
    assert sample(m, "pricewatch_fetch_retries_total", host="shop.example", reason="timeout") == 2
    assert sample(m, "pricewatch_robots_blocked_total", host="shop.example") == 1
    assert sample(m, "pricewatch_host_paused_checks_total", host="dead.example") == 1


def test_restore_sets_gauges_without_counting() -> None:
    """Gauges restored from the database at start-up do not count as checks made."""
    m = Metrics(CollectorRegistry())
    a = offer("kettle")
    m.configure([a])
    m.restore(a, Check(a.key, NOW, Outcome.OK, price=Decimal("7"), currency="USD"))
    assert sample(m, "pricewatch_price", product="kettle", store="shop", currency="USD") == 7
    assert sample(m, "pricewatch_checks_total", store="shop", outcome="ok") is None
