"""Every SQL query of the Grafana dashboards runs on a real PostgreSQL holding demo history.

The history is written by pricewatch's own storage and alert code (tests/deploy/history.py);
the queries are sent the way Grafana's PostgreSQL datasource sends them (variables formatted,
macros expanded, one query per currency for panels repeated by currency).
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import pytest

from tests.deploy.history import BLOCKING, OTHER_CURRENCY, SALE, History, write_history
from tests.deploy.support import (
    DASHBOARD,
    SQL_DASHBOARDS,
    SqlQuery,
    expand_sql,
    load_dashboard,
    sql_queries,
)

pytestmark = [pytest.mark.postgres, pytest.mark.slow, pytest.mark.timeout(300)]

INTERVAL = "30m"  # what Grafana would pick for a few days on a panel ~1000 px wide
_CURRENCY_MENTION = re.compile(r"\(([A-Z]{3})\)")


def _start(dashboard: dict[str, Any], end: datetime) -> datetime:
    match = re.fullmatch(r"now-(\d+)([hd])", dashboard["time"]["from"])
    assert match is not None, dashboard["time"]
    unit = {"h": "hours", "d": "days"}[match.group(2)]
    return end - timedelta(**{unit: int(match.group(1))})


async def _fetch(conn: asyncpg.Connection, query: SqlQuery, values: dict[str, list[str]],
                 multi: set[str], *, start: datetime, end: datetime) -> list[asyncpg.Record]:
    sql = expand_sql(query.sql, values, multi, start=start, end=end, interval=INTERVAL)
    try:
        return list(await conn.fetch(sql))
    except asyncpg.PostgresError as exc:
        raise AssertionError(f"{query.where}: {exc}\n{sql}") from exc


async def _variables(conn: asyncpg.Connection, dashboard: dict[str, Any], start: datetime,
                     end: datetime, fixed: dict[str, list[str]]) -> tuple[dict[str, list[str]],
                                                                         set[str]]:
    """Each variable's value as Grafana would hold it: a query variable's first choice, or all
    of them for a multi-value one left on "All"; a custom or text box variable's default."""
    values: dict[str, list[str]] = {"__interval": [INTERVAL]}
    multi = {v["name"] for v in dashboard["templating"]["list"] if v.get("multi")
             or v.get("includeAll")}
    for var in dashboard["templating"]["list"]:
        name = var["name"]
        if name in fixed:
            values[name] = fixed[name]
        elif var["type"] == "query":
            rows = await _fetch(conn, SqlQuery(f"variable ${name}", var["query"]), values,
                                multi, start=start, end=end)
            assert rows, f"variable ${name} has no choices"
            choices = [str(r["__value"] if "__value" in r else r[0]) for r in rows]
            values[name] = choices if name in multi else choices[:1]
        else:
            values[name] = [var["current"]["value"]]
    return values, multi


def _currencies_shown(rows: list[asyncpg.Record]) -> set[str]:
    """Currencies named in the column names and series names a panel would draw."""
    text = " ".join(rows[0].keys()) + " " + " ".join(str(r["metric"]) for r in rows
                                                     if "metric" in r)
    return set(_CURRENCY_MENTION.findall(text))


async def _check_dashboard(conn: asyncpg.Connection, dashboard: dict[str, Any], end: datetime,
                           fixed: dict[str, list[str]], problems: list[str]) -> int:
    start = _start(dashboard, end)
    values, multi = await _variables(conn, dashboard, start, end, fixed)
    ran = 0
    for query in sql_queries(dashboard):
        repeat = query.panel.get("repeat") if query.panel else None
        for value in values[repeat] if repeat else [None]:
            chosen = {**values, repeat: [value]} if repeat and value else values
            rows = await _fetch(conn, query, chosen, multi, start=start, end=end)
            ran += 1
            label = f"{dashboard['uid']} {query.where}" + (f" [{value}]" if value else "")
            if not rows:
                problems.append(f"{label}: no rows")
            elif repeat == "currency" and _currencies_shown(rows) != {value}:
                problems.append(f"{label}: shows {_currencies_shown(rows)}")
    return ran


async def test_every_dashboard_query_returns_rows_from_the_demo_history(
    postgres_url: str,
) -> None:
    """Each panel, variable and annotation query of the SQL dashboards (and the Prometheus
    dashboard's alert annotations) returns rows for every demo product, and a panel repeated
    by currency shows only its own currency."""
    history = await write_history(postgres_url)
    conn = await asyncpg.connect(postgres_url)
    problems: list[str] = []
    try:
        overview, product = (load_dashboard(p) for p in SQL_DASHBOARDS)
        ran = await _check_dashboard(conn, overview, history.end, {}, problems)
        for demo in history.products:
            ran += await _check_dashboard(conn, product, history.end, {"product": [demo.id]},
                                          problems)
        ids = [p.id for p in history.products]
        ran += await _check_dashboard(conn, load_dashboard(DASHBOARD), history.end,
                                      {"product": ids, "store": ["demo-shop", "shop-b"],
                                       "currency": sorted(history.currencies)}, problems)
        assert ran > 50
        assert not problems, "\n".join(problems)
        await _assert_events_show(conn, overview, product, history)
    finally:
        await conn.close()


async def _rows(conn: asyncpg.Connection, dashboard: dict[str, Any], title: str,
                end: datetime, values: dict[str, list[str]]) -> list[asyncpg.Record]:
    (query,) = [q for q in sql_queries(dashboard) if q.where == f"panel {title!r} A"]
    start = _start(dashboard, end)
    multi = {v["name"] for v in dashboard["templating"]["list"] if v.get("multi")}
    defaults = {v["name"]: [v["current"]["value"]] for v in dashboard["templating"]["list"]
                if v["type"] in ("custom", "textbox")}
    return await _fetch(conn, query, {**defaults, **values}, multi, start=start, end=end)


async def _assert_events_show(conn: asyncpg.Connection, overview: dict[str, Any],
                              product: dict[str, Any], history: History) -> None:
    """The scripted events land in the panels meant for them."""
    sale = history.products[SALE[0]]
    blocked = history.products[BLOCKING[0]]
    currency = sale.currency
    drops = await _rows(conn, overview, "Biggest drops (${currency})", history.end,
                        {"currency": [currency]})
    assert (drops[0]["product"], drops[0]["store"]) == (sale.name, SALE[1])
    lows = await _rows(conn, overview, "New lows (${currency})", history.end,
                       {"currency": [currency]})
    assert (sale.name, SALE[1]) in {(r["product"], r["store"]) for r in lows}
    failing = await _rows(conn, overview, "Failing stores", history.end, {})
    assert failing[0]["store"] == BLOCKING[1]
    assert failing[0]["last failure"].startswith("blocked: bot wall")
    stale = await _rows(conn, overview, "Stale offers", history.end, {})
    assert [(r["product"], r["store"]) for r in stale] == [(blocked.name, BLOCKING[1])]
    kettle = history.products[OTHER_CURRENCY[0]]
    for cur in (kettle.currency, OTHER_CURRENCY[2]):
        offers = await _rows(conn, product, "Offers now (${currency})", history.end,
                             {"product": [kettle.id], "currency": [cur]})
        assert len(offers) == 1, offers  # one store in each currency: cheapest in its own
        assert offers[0][" "] == "cheapest"
    lines = await _rows(conn, product, "Price by store (${currency})", history.end,
                        {"product": [sale.id], "currency": [currency]})
    assert {r["metric"] for r in lines} == {f"{sale.name} @ {s} ({currency})"
                                            for s in ("demo-shop", "shop-b")}
    assert all(r["time"].tzinfo is not None and r["time"] <= datetime.now(UTC) for r in lines)
