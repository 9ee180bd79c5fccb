"""Imports point down the layers of docs/architecture.md, apart from the few listed here."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "pricewatch"

# Higher imports lower, never the other way; packages of one rank never import each other.
RANK = {
    "__main__": 10,
    "cli": 9,
    "cluster": 8,  # cluster mode: the job engine's replica, built on runtime's parts
    "runtime": 7,
    # The crawl of `pricewatch discover`, on fetch + extract; below runtime, whose daemon
    # re-crawls watched listings with it (runtime/listings.py).
    "discover": 6,
    "alerts": 6,
    "db": 5,
    "fetch": 4,
    "extract": 4,
    "config": 3,
    "demo": 1,  # the bundled shop: self-contained, used by cli/demo.py
    "kernel": 0,  # pricewatch/__init__.py, models.py, errors.py, redact.py
}

# (importing module, imported module): why the arrow points up.
EXCEPTIONS = {
    # A selector, XPath or regex in the config is checked at load time by the very compiler
    # extraction uses, so "valid" has one definition; extract/rules.py imports only errors.
    ("pricewatch.config.types", "pricewatch.extract.rules"),
    # A crontab line is checked by APScheduler, and runtime/schedule.py is its only importer
    # (imported lazily, only when a config has a crontab line).
    ("pricewatch.config.types", "pricewatch.runtime.schedule"),
    # The alert queries take and return the alerts' own record types (Alert, State, Fact);
    # both modules import only the kernel.
    ("pricewatch.db.alerts", "pricewatch.alerts.message"),
    ("pricewatch.db.alerts", "pricewatch.alerts.rules"),
    # Demo history (for the web UI's tests, screenshots and bench) is written as the daemon
    # would write it, through the repository's own insert, so its rows are real rows.
    ("pricewatch.demo.history", "pricewatch.db.repository"),
}


def _layer(module: str) -> str:
    parts = module.split(".")[1:]
    if not parts or parts[0] in ("models", "errors", "redact", "__version__"):
        return "kernel"
    return parts[0]


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _imports(path: Path) -> set[str]:
    """Every pricewatch module ``path`` imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.split(".")[0] == "pricewatch"}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module and (
                node.module.split(".")[0] == "pricewatch"):
            # "from pricewatch import config" names a module; "from pricewatch.x import y"
            # names pricewatch.x (y may be a module or an object in it: same layer either way).
            found |= ({f"{node.module}.{a.name}" for a in node.names}
                      if node.module == "pricewatch" else {node.module})
    return found


def _arrows() -> set[tuple[str, str]]:
    arrows = set()
    for path in PACKAGE.rglob("*.py"):
        if "__pycache__" in path.parts:
            continue
        source = _module_name(path)
        arrows |= {(source, target) for target in _imports(path)}
    return arrows


def _upward(arrows: set[tuple[str, str]]) -> set[tuple[str, str]]:
    wrong = set()
    for source, target in arrows:
        a, b = _layer(source), _layer(target)
        if a != b and RANK[b] >= RANK[a]:
            wrong.add((source, target))
    return wrong


def test_every_package_has_a_rank() -> None:
    """A new top-level package or module of pricewatch/ is placed in a layer here."""
    layers = {_layer(_module_name(p)) for p in PACKAGE.rglob("*.py")
              if "__pycache__" not in p.parts}
    assert layers <= set(RANK), f"give these a rank in RANK: {sorted(layers - set(RANK))}"


def test_imports_point_down_the_layers() -> None:
    """No module imports a higher layer or a peer package, except the listed arrows."""
    wrong = _upward(_arrows()) - EXCEPTIONS
    assert not wrong, "imports against the layers: " + ", ".join(
        f"{s} -> {t}" for s, t in sorted(wrong))


def test_every_listed_exception_still_exists() -> None:
    """An exception no longer needed is removed from the list, so the list stays the truth."""
    stale = EXCEPTIONS - _upward(_arrows())
    assert not stale, f"no longer imported, remove from EXCEPTIONS: {sorted(stale)}"


def test_only_the_cluster_package_imports_the_job_engine() -> None:
    """Procrastinate and psycopg (the optional cluster extra) are imported by pricewatch/cluster
    alone, so every other mode runs without them installed."""
    offenders = []
    for path in PACKAGE.rglob("*.py"):
        if path.parent.name == "cluster" and path.parent.parent == PACKAGE:
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            names = [a.name for a in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.name}: {n}" for n in names
                          if n.split(".")[0] in ("procrastinate", "psycopg", "psycopg_pool")]
    assert offenders == []
