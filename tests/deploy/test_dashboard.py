"""grafana/: the dashboards are structurally sound, ask only for what pricewatch stores or
exports, split prices by currency and link to pricewatch's own pages."""

from __future__ import annotations

import copy
import itertools
import re
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pricewatch.runtime.metrics import Metrics
from tests.deploy.support import (
    COMPOSE,
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    RULES,
    SQL_DASHBOARDS,
    all_dashboards,
    dashboard_queries,
    load_dashboard,
    load_yaml,
    metric_names,
    panels,
    rule_queries,
    sql_queries,
    variables_used,
)

GRID_COLUMNS = 24


DASHBOARDS = all_dashboards()
# A panel shows prices when a query reads the price column or gauge (a percentage does not).
_READS_PRICE = re.compile(r"\bpricewatch_price\b|\b\w+\.price\b|\bmin\(c\.price\)")


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load_dashboard()


def _queries(panel: dict[str, Any]) -> list[str]:
    return [t.get("expr") or t.get("rawSql") or "" for t in panel.get("targets", [])]


def _shows_prices(panel: dict[str, Any]) -> bool:
    unit = panel.get("fieldConfig", {}).get("defaults", {}).get("unit")
    return unit != "percent" and any(_READS_PRICE.search(q) for q in _queries(panel))


def test_provisioned_dashboards_are_the_three() -> None:
    """Grafana gets the Prometheus dashboard and the two database dashboards, uids unique."""
    assert set(DASHBOARDS) == {"pricewatch.json", *(p.name for p in SQL_DASHBOARDS)}
    uids = [d["uid"] for d in DASHBOARDS.values()]
    assert sorted(uids) == ["pricewatch", "pricewatch-overview", "pricewatch-product"]


def _mixing(board: dict[str, Any]) -> list[str]:
    """Price panels that could put two currencies on one axis or in one column."""
    currency = [v for v in board["templating"]["list"] if v["name"] == "currency"]
    if not (currency and currency[0]["multi"] and currency[0]["includeAll"]):
        return ["no multi-value $currency variable"]
    found = []
    for panel in (p for p in panels(board) if _shows_prices(p)):
        if panel.get("repeat") != "currency" or "${currency}" not in panel["title"]:
            found.append(f"{panel['title']}: not repeated per currency")
        for query in _queries(panel):
            if not re.search(r'currency=~"\$currency"|currency IN \(\$currency\)', query):
                found.append(f"{panel['title']}: a query ignores $currency")
    return found


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_price_panels_never_mix_currencies(name: str) -> None:
    """Every panel that shows prices is repeated per currency and each of its queries keeps to
    the one currency the repeat gives it, so no axis or column mixes EUR with USD."""
    board = DASHBOARDS[name]
    assert any(_shows_prices(p) for p in panels(board)), "each dashboard here shows prices"
    assert _mixing(board) == []


def test_a_panel_without_the_currency_split_is_caught() -> None:
    """The currency check bites: the product chart without its repeat, or a query without the
    currency filter, counts as mixing."""
    board = copy.deepcopy(DASHBOARDS["pricewatch-product.json"])
    chart = next(p for p in panels(board) if p["title"].startswith("Price by store"))
    del chart["repeat"]
    target = chart["targets"][1]
    target["rawSql"] = target["rawSql"].replace("c.currency IN ($currency)", "true")
    assert _mixing(board) == [f"{chart['title']}: not repeated per currency",
                              f"{chart['title']}: a query ignores $currency"]


def test_product_dashboard_draws_a_line_per_store_and_marks_the_cheapest() -> None:
    """The product chart names each line "Name @ store (CUR)", adds a styled cheapest line,
    formats values in their currency, and links to the web UI's product page."""
    board = DASHBOARDS["pricewatch-product.json"]
    names = [v["name"] for v in board["templating"]["list"]]
    assert names[:2] == ["product", "currency"]
    product = board["templating"]["list"][0]
    assert not product["multi"], "one product per view: its stores are the lines"
    assert "__text" in product["query"]
    assert "__value" in product["query"]
    chart = next(p for p in panels(board) if p["title"].startswith("Price by store"))
    lines, cheapest = _queries(chart)
    assert "p.name || ' @ ' || o.store || ' (' || c.currency || ')' AS metric" in lines
    assert "'cheapest (' || c.currency || ')' AS metric" in cheapest
    overrides = chart["fieldConfig"]["overrides"]
    styled = [o for o in overrides if o["matcher"]["options"] == "^cheapest .*"]
    assert styled
    assert {p["id"] for p in styled[0]["properties"]} >= {"color", "custom.lineStyle"}
    units = {prop["value"] for o in overrides for prop in o["properties"] if prop["id"] == "unit"}
    assert {"currencyUSD", "currencyEUR", "currencyGBP"} <= units
    links = chart["fieldConfig"]["defaults"]["links"]
    assert [link["url"] for link in links] == ["${pricewatch_url}/products/${product}"]


def test_data_links_open_the_web_ui_product_page() -> None:
    """Each database dashboard offers the built-in UI's /products/<product_id> page, at the
    address compose publishes by default."""
    compose = load_yaml(COMPOSE)["services"]["pricewatch"]["ports"][0]
    default_port = re.search(r"PRICEWATCH_PORT:-(\d+)", compose)
    assert default_port is not None
    for path in SQL_DASHBOARDS:
        board = DASHBOARDS[path.name]
        url = next(v for v in board["templating"]["list"] if v["name"] == "pricewatch_url")
        assert url["query"] == f"http://127.0.0.1:{default_port.group(1)}"
        text = str(board["panels"])
        link = r"\$\{pricewatch_url\}/products/\$\{(product|__data\.fields\.product_id)\}"
        assert re.search(link, text), path.name


@pytest.mark.parametrize("name", ["pricewatch.json", "pricewatch-product.json"])
def test_price_charts_carry_pricewatch_alerts_as_annotations(name: str) -> None:
    """The dashboards with price charts overlay the alerts table, with the delivery state read
    from the notifications table, through the PostgreSQL datasource."""
    board = DASHBOARDS[name]
    found = [a for a in board["annotations"]["list"] if a.get("name") == "pricewatch alerts"]
    assert len(found) == 1
    annotation = found[0]
    assert annotation["enable"]
    assert annotation["datasource"]["uid"] == "pricewatch-postgres"
    sql = annotation["target"]["rawSql"]
    assert "FROM alerts a" in sql
    assert "FROM notifications" in sql
    assert re.search(r'AS "time".*AS text.*AS tags', sql, re.S)


def _exported_series() -> set[str]:
    """Every series name pricewatch's /metrics can carry, histogram suffixes included."""
    registry = CollectorRegistry()
    Metrics(registry)
    names = set()
    for family in registry.collect():
        names.add(family.name)
        suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_sum", "_count"]}
        names.update(family.name + s for s in suffixes.get(family.type, []))
    return names


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panel_ids_are_unique(name: str) -> None:
    """No two panels share an id (Grafana would silently drop or merge them)."""
    ids = [p["id"] for p in panels(DASHBOARDS[name])]
    assert len(ids) == len(set(ids)), ids


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_panels_fit_the_grid_without_overlapping(name: str) -> None:
    """Every panel lies inside the 24 columns and no two panels cover the same cell."""
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(DASHBOARDS[name]):
        pos = panel["gridPos"]
        assert pos["w"] > 0, panel["title"]
        assert pos["h"] > 0, panel["title"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= GRID_COLUMNS, panel["title"]
        for cell in itertools.product(range(pos["x"], pos["x"] + pos["w"]),
                                      range(pos["y"], pos["y"] + pos["h"])):
            assert cell not in cells, f"{panel['title']!r} overlaps {cells[cell]!r}"
            cells[cell] = panel["title"]


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_datasources_exist_in_provisioning(name: str) -> None:
    """Every datasource uid a dashboard names is provisioned, with a matching type."""
    dashboard = DASHBOARDS[name]
    provisioned = {d["uid"]: d["type"] for d in load_yaml(DATASOURCES)["datasources"]}
    refs = [p["datasource"] for p in panels(dashboard)]
    refs += [t["datasource"] for p in panels(dashboard) for t in p.get("targets", [])]
    refs += [v["datasource"] for v in dashboard["templating"]["list"] if "datasource" in v]
    refs += [a["datasource"] for a in dashboard["annotations"]["list"]
             if a["datasource"]["uid"] != "-- Grafana --"]
    for ref in refs:
        assert ref["uid"] in provisioned, ref
        assert provisioned[ref["uid"]] == ref["type"], ref
    defaults = [d for d in load_yaml(DATASOURCES)["datasources"] if d.get("isDefault")]
    assert [d["uid"] for d in defaults] == ["prometheus"]


def test_variables_used_by_queries_are_defined(dashboard: dict[str, Any]) -> None:
    """Each $variable in a query or variable definition is a templating variable."""
    defined = [v["name"] for v in dashboard["templating"]["list"]]
    assert defined == ["store", "product", "currency"]
    exprs = [q.expr for q in dashboard_queries(dashboard)]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"]]
    used = set().union(*(variables_used(e) for e in exprs))
    assert used == set(defined), used
    product = dashboard["templating"]["list"][1]
    assert "$store" in product["query"]["query"], "product choices follow the chosen store"


@pytest.mark.parametrize("path", SQL_DASHBOARDS, ids=lambda p: p.name)
def test_sql_dashboards_define_what_they_use(path: Any) -> None:
    """Each $variable in a database dashboard's SQL, titles and links is one of its variables
    (Grafana's own ${__...} excepted)."""
    board = DASHBOARDS[path.name]
    defined = {v["name"] for v in board["templating"]["list"]}
    text = " ".join([q.sql for q in sql_queries(board)] + [str(p) for p in panels(board)])
    used = {n for n in variables_used(text) if not n.startswith("__")}
    assert used == defined, used ^ defined


@pytest.mark.parametrize("name", sorted(DASHBOARDS))
def test_every_panel_queries_something_and_says_what_it_shows(name: str) -> None:
    """Each panel has a title, a description and at least one PromQL or SQL target with a
    refId."""
    for panel in panels(DASHBOARDS[name]):
        if panel["type"] == "row":
            continue
        assert panel["title"], panel["id"]
        assert panel.get("description"), panel["title"]
        targets = panel.get("targets", [])
        assert targets, panel["title"]
        assert all(t.get("expr") or t.get("rawSql") for t in targets), panel["title"]
        ref_ids = [t["refId"] for t in targets]
        assert len(ref_ids) == len(set(ref_ids)), panel["title"]


def test_queries_only_use_series_pricewatch_exports(dashboard: dict[str, Any]) -> None:
    """Every series the dashboard and rules read is exported by the metrics module or recorded."""
    rules = rule_queries(load_yaml(RULES))
    known = _exported_series() | {q.name for q in rules if q.kind == "record"} | {"up"}
    for query in [*dashboard_queries(dashboard), *rules]:
        unknown = metric_names(query.expr) - known
        assert not unknown, f"{query.where} reads {unknown}"


def test_price_panels_show_the_currency(dashboard: dict[str, Any]) -> None:
    """Panels of prices label each series with its currency and format it with that unit."""
    for panel in panels(dashboard):
        exprs = [t["expr"] for t in panel.get("targets", [])]
        if not any(e.startswith(("pricewatch_price", "min_over_time(pricewatch_price",
                                 "max_over_time(pricewatch_price")) for e in exprs):
            continue
        assert all("{{currency}}" in t["legendFormat"] for t in panel["targets"]), panel["title"]
        units = {prop["value"] for o in panel["fieldConfig"]["overrides"]
                 for prop in o["properties"] if prop["id"] == "unit"}
        assert {"currencyUSD", "currencyEUR", "currencyGBP"} <= units, panel["title"]


def test_provisioning_points_at_the_mounted_dashboards() -> None:
    """The dashboards provider reads the directory compose mounts the JSON files into."""
    provider = load_yaml(DASHBOARD_PROVIDERS)["providers"][0]
    grafana = load_yaml(COMPOSE)["services"]["grafana"]
    mounts = dict(v.split(":")[:2] for v in grafana["volumes"])
    assert mounts["./grafana/dashboards"] == provider["options"]["path"]
    assert mounts["./grafana/provisioning"] == "/etc/grafana/provisioning"
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    assert home == provider["options"]["path"] + "/pricewatch-overview.json"
