"""Faults and politeness end to end: offers run through ``run_once`` with a real
SQLite file, and the ``checks`` rows are read back."""

from __future__ import annotations

import itertools
import sqlite3
from pathlib import Path
from typing import Any

import yaml
from faultserver import HOSTS, FaultServer, by_host

from pricewatch import config
from pricewatch.runtime.rounds import run_once

_HTTP: dict[str, Any] = {
    "user_agent": "pricewatch-test/1.0",
    "per_host_delay": 0,
    "timeouts": {"connect": "1s", "read": "300ms", "total": "1s"},
    "retries": {"attempts": 3, "backoff_base": "20ms", "backoff_max": "100ms",
                "retry_after_max": "1s"},
    "max_bytes": "1MiB",
    "max_redirects": 5,
}


def _settings(tmp_path: Path, offers: dict[str, str | dict[str, Any]], **http: Any
              ) -> config.Settings:
    data = {
        "database": {"url": f"sqlite:///{tmp_path / 'checks.db'}"},
        "http": {**_HTTP, **http},
        "products": [
            {"id": pid, "name": pid, "offers": [
                {"url": offer, "selector": ".price"} if isinstance(offer, str)
                else {"selector": ".price", **offer}]}
            for pid, offer in offers.items()
        ],
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return config.load(path)


def _rows(tmp_path: Path) -> dict[str, tuple[str, int, int | None, str | None]]:
    with sqlite3.connect(tmp_path / "checks.db") as db:
        rows = db.execute(
            "SELECT o.product_id, c.outcome, c.attempts, c.http_status, c.error "
            "FROM checks c JOIN offers o ON o.id = c.offer_id").fetchall()
    return {pid: (outcome, attempts, status, error)
            for pid, outcome, attempts, status, error in rows}


async def test_every_fault_is_a_classified_row(fault: FaultServer, tmp_path: Path) -> None:
    """One offer per fault: every check row has the expected outcome and attempt count,
    none carries a price, and robots-disallowed pages were never requested."""
    fault.robots["127.0.0.5"] = (200, "User-agent: *\nDisallow: /page/private\n")
    u = fault.url
    h = "127.0.0.2"
    offers: dict[str, str | dict[str, Any]] = {
        "ok": u(h, "/page/ok"),
        "rate-limited": u(h, "/flaky/rl?fail=9&status=429&retry_after=0"),
        "recovers": u(h, "/flaky/r?fail=2&status=503"),
        "slow-headers": u("127.0.0.3", "/slow-headers?delay=5"),
        "trickle": {"url": u("127.0.0.3", "/trickle"), "timeouts": {"total": "300ms"}},
        "truncated": u("127.0.0.4", "/truncated"),
        "huge": u("127.0.0.4", "/huge"),
        "bomb": u("127.0.0.4", "/bomb"),
        "loop": u("127.0.0.1", "/loop/a"),
        "captcha": u("127.0.0.1", "/captcha"),
        "bad-bytes": u("127.0.0.1", "/bad-charset"),
        "pdf": u("127.0.0.1", "/pdf"),
        "gone": u("127.0.0.1", "/status/410"),
        "private": u("127.0.0.5", "/page/private"),
    }
    await run_once(_settings(tmp_path, offers))
    rows = _rows(tmp_path)
    got = {pid: (outcome, attempts) for pid, (outcome, attempts, _s, _e) in rows.items()}
    assert got == {
        "ok": ("ok", 1),
        "rate-limited": ("rate_limited", 3),
        "recovers": ("ok", 3),
        "slow-headers": ("timeout", 3),
        "trickle": ("timeout", 3),
        "truncated": ("network_error", 3),
        "huge": ("too_large", 1),
        "bomb": ("too_large", 1),
        "loop": ("http_error", 1),
        "captcha": ("blocked", 1),
        "bad-bytes": ("ok", 1),
        "pdf": ("not_html", 1),
        "gone": ("http_error", 1),
        "private": ("robots_disallowed", 0),
    }
    assert rows["gone"][2] == 410
    assert rows["rate-limited"][2] == 429
    assert rows["huge"][2] == 200  # the status survives a body cut at the cap
    assert all(error for outcome, _a, _s, error in rows.values() if outcome != "ok")
    assert fault.hits_for("/page/private") == []
    with sqlite3.connect(tmp_path / "checks.db") as db:
        priced = db.execute("SELECT count(*) FROM checks WHERE price IS NOT NULL").fetchone()
    assert priced == (3,)  # ok, recovers, bad-bytes


async def test_round_of_200_offers_on_5_hosts_is_polite(
    fault: FaultServer, tmp_path: Path
) -> None:
    """200 offers on 5 hosts: the server sees 2 requests in flight per host, never more, the
    hosts served in parallel (at least 4 busy at once), and the per-host delay in force.

    The delay rule itself is checked exactly, in fake time, in tests/unit/fetch/
    test_fetch_hosts.py. Arrivals here carry the loopback's and a busy machine's jitter (gaps
    under half the delay have been seen), so the check is loose: at most a tenth of the
    starts on one host arrive within half the delay of the one before (without the delay,
    half of them arrive together), and the gaps average at least the delay less 10 %."""
    for host in HOSTS:
        fault.latency[host] = 0.08  # longer than the delay, so two requests do overlap
    offers: dict[str, str | dict[str, Any]] = {
        f"p{i:03d}": fault.url(HOSTS[i % 5], f"/page/{i}") for i in range(200)}
    settings = _settings(tmp_path, offers, per_host_concurrency=2, per_host_delay="50ms")
    result = await run_once(settings)
    assert result.written == 200
    assert {o.value for o in result.summary.outcomes} == {"ok"}
    pages = [h for h in fault.hits if h.path.startswith("/page/")]
    assert len(pages) == 200
    assert fault.max_in_flight == dict.fromkeys(HOSTS, 2)  # the limit is reached, never passed
    for hits in by_host(pages).values():
        starts = sorted(h.start for h in hits)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        close = [round(g, 3) for g in gaps if g < 0.05 / 2]
        assert len(close) <= len(gaps) // 10, close
        assert sum(gaps) / len(gaps) >= 0.05 * 0.9
    assert fault.max_hosts_in_flight >= 4


async def test_second_round_is_a_conditional_request(fault: FaultServer, tmp_path: Path) -> None:
    """The ETag stored by the first round is sent in the second; the 304 becomes an ok,
    unchanged check that reuses the stored price."""
    settings = _settings(tmp_path, {"etag": fault.url("127.0.0.2", "/etag")})
    await run_once(settings)
    await run_once(settings)
    with sqlite3.connect(tmp_path / "checks.db") as db:
        rows = db.execute("SELECT outcome, http_status, unchanged, price FROM checks "
                          "ORDER BY id").fetchall()
    assert [r[:3] for r in rows] == [("ok", 200, 0), ("ok", 304, 1)]
    assert rows[0][3] == rows[1][3]
    assert fault.hits_for("/etag")[1].headers["If-None-Match"] == '"v1"'
