"""Cluster mode's config and its pure planning (pricewatch/cluster/slots.py)."""

from __future__ import annotations

import itertools
import subprocess
import sys
from pathlib import Path

import pytest

from pricewatch import config
from pricewatch.cluster.slots import cron_every, window
from pricewatch.errors import ConfigError

PG = 'database: {url: "postgresql://u@127.0.0.1/db"}\n'
PRODUCTS = ("products:\n  - id: a\n    name: A\n    offers:\n"
            "      - url: http://127.0.0.1:1/a\n        interval: 10s\n"
            "      - url: http://localhost:1/a\n        interval: 10s\n"
            "  - id: b\n    name: B\n    offers:\n"
            "      - url: http://127.0.0.1:1/b\n        interval: 5s\n")


def test_cluster_true_is_short_for_enabled() -> None:
    """`cluster: true` turns cluster mode on with the defaults."""
    settings = config.loads(PG + "cluster: true\n" + PRODUCTS)
    assert settings.model.cluster.enabled
    assert settings.cluster_mode()


def test_cluster_on_sqlite_names_file_and_line() -> None:
    """`cluster: true` on SQLite is a config error at the `cluster` line."""
    with pytest.raises(ConfigError) as err:
        config.loads("schedule: {interval: 1h}\ncluster: true\n" + PRODUCTS, file="c.yaml")
    assert (err.value.file, err.value.line) == ("c.yaml", 2)
    assert "PostgreSQL" in str(err.value)


def test_cluster_flag_on_sqlite_names_the_database_line(tmp_path: Path) -> None:
    """`pricewatch run --cluster` with a SQLite database exits 2 naming the file, the line of
    database.url, and the field."""
    path = tmp_path / "c.yaml"
    path.write_text('server: {port: 0}\ndatabase: {url: "sqlite:///x.db"}\n' + PRODUCTS,
                    encoding="utf-8")
    done = subprocess.run([sys.executable, "-m", "pricewatch.cli", "run", "-c", str(path),
                           "--cluster"], capture_output=True, text=True, timeout=60,
                          check=False)
    assert done.returncode == 2
    assert f"{path}:2" in done.stderr
    assert "database.url" in done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.parametrize(("value", "ok"), [("5s", True), ("60s", True), ("15m", True),
                                            ("7s", False), ("1.5s", False), ("7m", False)])
def test_plan_every_must_tile_a_minute_or_an_hour(value: str, ok: bool) -> None:
    """Planning windows are a cron period: a plan_every that does not divide a minute or an
    hour is refused at its line."""
    text = PG + f"cluster:\n  enabled: true\n  plan_every: {value}\n" + PRODUCTS
    if ok:
        assert config.loads(text).model.cluster.plan_every > 0
        return
    with pytest.raises(ConfigError) as err:
        config.loads(text)
    assert err.value.line == 4


def test_stalled_after_must_outlast_heartbeats() -> None:
    """A stall threshold under two heartbeats would hand a live replica's checks away."""
    with pytest.raises(ConfigError, match="twice the heartbeat"):
        config.loads(PG + "cluster: {enabled: true, heartbeat: 10s, stalled_after: 15s}\n"
                     + PRODUCTS)


def test_windows_tile_time_every_slot_once() -> None:
    """Consecutive windows hold every offer's slots once each, on its own interval's grid."""
    offers = config.loads(PG + PRODUCTS).offers()
    slots = [s for start in range(1000, 1060, 5)
             for s in window(offers, start, start + 5, jitter=0.1)]
    by_key: dict[str, list[int]] = {}
    for s in slots:
        by_key.setdefault(s.key, []).append(s.slot)
    intervals = {"a@127.0.0.1": 10_000, "a@localhost": 10_000, "b@127.0.0.1": 5_000}
    for key, got in by_key.items():
        assert len(got) == len(set(got))
        assert {b - a for a, b in itertools.pairwise(got)} == {intervals[key]}
    assert len(by_key["b@127.0.0.1"]) == 12


def test_jitter_is_per_slot_and_lanes_follow_the_host() -> None:
    """A slot's run time is within its jitter and the same whoever plans it; one host's checks
    share its lane lock, another host's do not."""
    offers = config.loads(PG + PRODUCTS).offers()
    first = window(offers, 1000, 1020, jitter=0.2)
    assert first == window(offers, 1000, 1020, jitter=0.2)
    for s in first:
        late = s.run_at.timestamp() - s.slot / 1000
        assert 0 <= late < 0.2 * (5 if s.key.startswith("b") else 10)
    locks = {s.key: s.lock for s in first}
    assert locks["a@localhost"].startswith("host:localhost#")
    assert locks["a@127.0.0.1"].startswith("host:127.0.0.1#")


def test_planning_period_as_cron() -> None:
    """Seconds use croniter's sixth field; minutes the minute field."""
    assert cron_every(5) == "* * * * * */5"
    assert cron_every(900) == "*/15 * * * *"
