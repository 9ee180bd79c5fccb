"""grafana/: the dashboard is structurally sound and only asks for series pricewatch exports."""

from __future__ import annotations

import itertools
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from pricewatch.runtime.metrics import Metrics
from tests.deploy.support import (
    COMPOSE,
    DASHBOARD_PROVIDERS,
    DATASOURCES,
    RULES,
    dashboard_queries,
    load_dashboard,
    load_yaml,
    metric_names,
    panels,
    rule_queries,
    variables_used,
)

GRID_COLUMNS = 24


@pytest.fixture(scope="module")
def dashboard() -> dict[str, Any]:
    return load_dashboard()


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


def test_panel_ids_are_unique(dashboard: dict[str, Any]) -> None:
    """No two panels share an id (Grafana would silently drop or merge them)."""
    ids = [p["id"] for p in panels(dashboard)]
    assert len(ids) == len(set(ids)), ids


def test_panels_fit_the_grid_without_overlapping(dashboard: dict[str, Any]) -> None:
    """Every panel lies inside the 24 columns and no two panels cover the same cell."""
    cells: dict[tuple[int, int], str] = {}
    for panel in panels(dashboard):
        pos = panel["gridPos"]
        assert pos["w"] > 0, panel["title"]
        assert pos["h"] > 0, panel["title"]
        assert pos["x"] >= 0, panel["title"]
        assert pos["x"] + pos["w"] <= GRID_COLUMNS, panel["title"]
        for cell in itertools.product(range(pos["x"], pos["x"] + pos["w"]),
                                      range(pos["y"], pos["y"] + pos["h"])):
            assert cell not in cells, f"{panel['title']!r} overlaps {cells[cell]!r}"
            cells[cell] = panel["title"]


def test_datasources_exist_in_provisioning(dashboard: dict[str, Any]) -> None:
    """Every datasource uid the dashboard names is provisioned, with a matching type."""
    provisioned = {d["uid"]: d["type"] for d in load_yaml(DATASOURCES)["datasources"]}
    refs = [p["datasource"] for p in panels(dashboard)]
    refs += [t["datasource"] for p in panels(dashboard) for t in p.get("targets", [])]
    refs += [v["datasource"] for v in dashboard["templating"]["list"] if "datasource" in v]
    for ref in refs:
        assert ref["uid"] in provisioned, ref
        assert provisioned[ref["uid"]] == ref["type"], ref
    defaults = [d for d in load_yaml(DATASOURCES)["datasources"] if d.get("isDefault")]
    assert [d["uid"] for d in defaults] == ["prometheus"]


def test_variables_used_by_queries_are_defined(dashboard: dict[str, Any]) -> None:
    """Each $variable in a query or variable definition is a templating variable."""
    defined = [v["name"] for v in dashboard["templating"]["list"]]
    assert defined == ["store", "product"]
    exprs = [q.expr for q in dashboard_queries(dashboard)]
    exprs += [v["query"]["query"] for v in dashboard["templating"]["list"]]
    used = set().union(*(variables_used(e) for e in exprs))
    assert used == set(defined), used
    product = dashboard["templating"]["list"][1]
    assert "$store" in product["query"]["query"], "product choices follow the chosen store"


def test_every_panel_queries_something_and_says_what_it_shows(dashboard: dict[str, Any]) -> None:
    """Each panel has a title, a description and at least one PromQL target with a refId."""
    for panel in panels(dashboard):
        if panel["type"] == "row":
            continue
        assert panel["title"], panel["id"]
        assert panel.get("description"), panel["title"]
        targets = panel.get("targets", [])
        assert targets, panel["title"]
        assert all(t.get("expr") for t in targets), panel["title"]
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
    assert home == provider["options"]["path"] + "/pricewatch.json"
