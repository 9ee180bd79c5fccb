"""The one recorder: a result becomes a row, metric samples, summary counts and offer state."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from prometheus_client import CollectorRegistry

from pricewatch import config
from pricewatch.db.database import open_database, sync
from pricewatch.models import Check, Outcome
from pricewatch.runtime.metrics import Metrics
from pricewatch.runtime.pipeline import CheckResult
from pricewatch.runtime.recorder import OfferState, recording
from tests.integration.daemon_support import daemon_config, rows


async def test_record_writes_counts_and_remembers(tmp_path: Path) -> None:
    """Two recorded checks are two rows after the block, counted in the summary and in
    pricewatch_checks_total; the ok one is the offer's previous check; a check of an offer
    no longer configured is stored under its id without bringing its gauges back. Recording
    as the daemon does keeps no check in the summary (a daemon's checks would pile up there
    for as long as it runs)."""
    path = daemon_config(tmp_path / "config.yaml", ["http://127.0.0.1:9/a",
                                                    "http://127.0.0.1:9/b"])
    settings = config.load(path, environ={})
    a, b = settings.offers()
    configured = {a.key: a}  # b was removed by a reload while its check ran
    metrics = Metrics(CollectorRegistry())
    metrics.configure([a])  # as the daemon does: the series are the configured offers'
    state = OfferState()
    now = datetime.now(UTC)
    async with open_database(settings) as engine:
        ids = await sync(engine, [a, b])
        async with recording(settings, engine, ids, offer_of=configured.get, metrics=metrics,
                             state=state) as parts:
            parts.recorder.record(a, CheckResult(Check(a.key, now, Outcome.OK,
                                                       price=Decimal("12.34"), currency="USD"),
                                                 etag='"v1"'))
            parts.recorder.record(b, CheckResult(Check(b.key, now, Outcome.TIMEOUT,
                                                       error="read timeout")),
                                  offer_id=ids[b.key])
        summary = parts.recorder.summary
    assert sorted(rows(tmp_path / "pw.db")) == [(a.key, "ok"), (b.key, "timeout")]
    assert summary.total == 2
    assert summary.outcomes == {Outcome.OK: 1, Outcome.TIMEOUT: 1}
    assert summary.checks == []
    assert state.previous[a.key].etag == '"v1"'
    assert state.latest[b.key].outcome is Outcome.TIMEOUT
    registry = metrics.registry
    assert registry.get_sample_value("pricewatch_checks_total",
                                     {"store": "127.0.0.1", "outcome": "timeout"}) == 1
    assert registry.get_sample_value("pricewatch_price", {
        "product": "p0", "store": "127.0.0.1", "currency": "USD"}) == 12.34
    assert registry.get_sample_value("pricewatch_last_check_timestamp_seconds", {
        "product": "p1", "store": "127.0.0.1"}) is None
