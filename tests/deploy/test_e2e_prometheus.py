"""A real Prometheus scrapes a real `pricewatch demo`; every dashboard and rule query has data.

This is what a user gets after `docker compose up`, minus Docker: the same rules file, the
same dashboard JSON, the daemon checking the bundled demo shop every 2 s, Prometheus scraping
every second. Grafana's variables are replaced the way Grafana does before sending a query.
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import os
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import yaml

from tests.deploy.support import (
    RULES,
    Query,
    dashboard_queries,
    load_dashboard,
    load_yaml,
    rule_queries,
    selectors,
    substitute,
    tool,
)

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]

PRODUCTS = 12  # two of each markup style of the demo shop
# What Grafana would put in; the data is seconds old, and a range vector needs two samples.
RATE_INTERVAL = "1m"
RANGE = "1m"
READY_TIMEOUT = 60.0  # bounded wait for the first scrapes; typically ~10 s
# Selectors of failures, which the demo shop never causes: their metric must have data instead.
ONLY_WHEN_FAILING = {'pricewatch_checks_total{outcome!="ok"}'}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Process:
    """A subprocess whose output goes to a file, for the failure message."""

    def __init__(self, proc: asyncio.subprocess.Process, log: Path) -> None:
        self.proc = proc
        self.log = log

    def tail(self, lines: int = 30) -> str:
        text = self.log.read_text(encoding="utf-8", errors="replace") if self.log.exists() else ""
        return f"--- {self.log.name} ---\n" + "\n".join(text.splitlines()[-lines:])

    async def stop(self) -> None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), 20)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()


async def _spawn(cmd: list[str], log: Path, cwd: Path) -> Process:
    with log.open("wb") as out:
        proc = await asyncio.create_subprocess_exec(
            *cmd, cwd=cwd, stdin=asyncio.subprocess.DEVNULL, stdout=out,
            stderr=asyncio.subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    return Process(proc, log)


class Prom:
    """Prometheus's HTTP API, raising with the error Prometheus gives."""

    def __init__(self, session: aiohttp.ClientSession, base: str) -> None:
        self.session = session
        self.base = base

    async def get(self, path: str, **params: str | list[str]) -> Any:
        async with self.session.get(f"{self.base}{path}", params=params) as resp:
            body = await resp.json()
        if body.get("status") != "success":
            raise AssertionError(f"{path} {params}: {body.get('errorType')}: {body.get('error')}")
        return body["data"]

    async def query(self, expr: str) -> list[dict[str, Any]]:
        data = await self.get("/api/v1/query", query=expr)
        assert data["resultType"] in ("vector", "scalar"), (expr, data["resultType"])
        result: list[dict[str, Any]] = data["result"] if data["resultType"] == "vector" else [
            {"metric": {}, "value": data["result"]}]
        return result


@pytest.fixture
async def stack(tmp_path: Path) -> AsyncIterator[tuple[Prom, list[Process]]]:
    """pricewatch demo (shop + daemon) and Prometheus with our rules, on free loopback ports."""
    prometheus = tool("prometheus", "apt-get install prometheus; .ci/run installs it")
    metrics_port, prom_port = _free_port(), _free_port()
    demo = await _spawn([sys.executable, "-m", "pricewatch", "demo", "--dir",
                         str(tmp_path / "demo"), "--port", "0", "--listen", "127.0.0.1",
                         "--metrics-port", str(metrics_port), "--products", str(PRODUCTS),
                         "--interval", "2s"], tmp_path / "pricewatch.log", tmp_path)
    config = {
        "global": {"scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(RULES)],
        "scrape_configs": [{"job_name": "pricewatch",
                            "static_configs": [{"targets": [f"127.0.0.1:{metrics_port}"]}]}],
    }
    (tmp_path / "prometheus.yml").write_text(yaml.safe_dump(config), encoding="utf-8")
    prom = await _spawn([str(prometheus), f"--config.file={tmp_path / 'prometheus.yml'}",
                         f"--storage.tsdb.path={tmp_path / 'tsdb'}",
                         f"--web.listen-address=127.0.0.1:{prom_port}", "--log.level=warn"],
                        tmp_path / "prometheus.log", tmp_path)
    processes = [demo, prom]
    try:
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
            yield Prom(session, f"http://127.0.0.1:{prom_port}"), processes
    finally:
        for process in reversed(processes):
            await process.stop()


async def _wait_for_data(prom: Prom, processes: list[Process]) -> None:
    """Until every offer is priced, rules have run on it, and a few scrapes are stored."""
    conditions = [
        f"count(pricewatch_price) == {PRODUCTS}",
        f"count(pricewatch:offer_staleness:intervals) == {PRODUCTS}",
        'count_over_time(up{job="pricewatch"}[1m]) >= 6',
        "sum(increase(pricewatch_db_write_seconds_count[1m])) > 0",
    ]
    deadline = time.monotonic() + READY_TIMEOUT
    pending = list(conditions)
    while pending:
        for process in processes:
            assert process.proc.returncode is None, f"exited early\n{process.tail()}"
        if time.monotonic() > deadline:
            logs = "\n".join(p.tail() for p in processes)
            raise AssertionError(f"no data for {pending} after {READY_TIMEOUT:.0f}s\n{logs}")
        with contextlib.suppress(aiohttp.ClientError, AssertionError):  # still starting
            pending = [c for c in pending if not await prom.query(c)]
        if pending:
            await asyncio.sleep(0.5)


async def _variables(prom: Prom, dashboard: dict[str, Any]) -> dict[str, str]:
    """Values for $store and $product from the label_values queries Grafana would run."""
    chosen: dict[str, str] = {"__rate_interval": RATE_INTERVAL, "__range": RANGE,
                              "__interval": "2s"}
    for var in dashboard["templating"]["list"]:
        query = substitute(var["query"]["query"], chosen)
        # label_values(SELECTOR, LABEL) is Grafana's call of /api/v1/label/LABEL/values.
        inner = query.removeprefix("label_values(").removesuffix(")")
        selector, _, label = inner.rpartition(",")
        values = await prom.get(f"/api/v1/label/{label.strip()}/values", **{"match[]": selector})
        assert values, f"variable ${var['name']}: {query} has no values"
        chosen[var["name"]] = "|".join(sorted(values))  # a multi-value regex, as Grafana sends
    return chosen


def _has_numbers(result: list[dict[str, Any]]) -> bool:
    return any(not math.isnan(float(r["value"][1])) for r in result)


async def test_every_dashboard_and_rule_query_returns_data(
    stack: tuple[Prom, list[Process]],
) -> None:
    """Each panel query and recording rule returns numbers; alerts evaluate on existing series."""
    prom, processes = stack
    await _wait_for_data(prom, processes)
    dashboard = load_dashboard()
    values = await _variables(prom, dashboard)
    assert values["store"] == "demo-shop"
    assert len(values["product"].split("|")) == PRODUCTS

    panels = dashboard_queries(dashboard)
    rules = rule_queries(load_yaml(RULES))
    assert len(panels) >= 15
    empty: list[str] = []
    for query in [*panels, *rules]:
        expr = substitute(query.expr, values) if query.kind == "panel" else query.expr
        result = await prom.query(expr)  # raises on a PromQL error
        if query.kind in ("panel", "record") and not _has_numbers(result):
            empty.append(f"{query.where}: {expr}")
        for found in selectors(expr):
            selector = found.partition("{")[0] if found in ONLY_WHEN_FAILING else found
            if not await prom.query(selector):
                empty.append(f"{query.where}: selector {selector}")
    assert not empty, "queries without data:\n" + "\n".join(empty)

    recorded = [q for q in rules if q.kind == "record"]
    for rule in recorded:
        assert await prom.query(rule.name), f"{rule.name} was never recorded"
    await _assert_rules_healthy(prom, rules)


async def _assert_rules_healthy(prom: Prom, rules: list[Query]) -> None:
    """Prometheus evaluated every rule of the file without an error, and loaded all of them."""
    groups = (await prom.get("/api/v1/rules"))["groups"]
    loaded = {r["name"]: r for g in groups for r in g["rules"]}
    expected = {q.name or q.where.removeprefix("alert ") for q in rules}
    assert expected == set(loaded), expected ^ set(loaded)
    for name, rule in loaded.items():
        assert rule["health"] in ("ok", "unknown"), (name, rule.get("lastError"))
        assert not rule.get("lastError"), (name, rule["lastError"])
