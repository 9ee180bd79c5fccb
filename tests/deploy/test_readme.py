"""The README's Docker section says what the files do: its config, panels, alerts and SQL work."""

from __future__ import annotations

import re
from pathlib import Path

import asyncpg
import pytest

from pricewatch import config
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog
from pricewatch.demo.config import demo_config
from pricewatch.runtime.rounds import run_once
from tests.deploy.support import (
    ROOT,
    RULES,
    load_dashboard,
    load_yaml,
    panels,
    rule_queries,
)


def _docker_section() -> str:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    match = re.search(r"^## Docker\n(.*?)(?=^## )", readme, re.M | re.S)
    assert match is not None, "README has no '## Docker' section"
    return match.group(1)


def _block(language: str, index: int = 0) -> str:
    blocks = re.findall(rf"^```{language}\n(.*?)^```", _docker_section(), re.M | re.S)
    return str(blocks[index])


def test_a_plain_config_in_the_container_serves_on_all_interfaces_and_stores_in_data() -> None:
    """With the image's and compose's environment, an unmodified config listens on 0.0.0.0
    (Prometheus can scrape it) and keeps its SQLite file in the /data volume."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    environ = dict(re.findall(r"(PRICEWATCH_[A-Z_]+)=(\S+)", dockerfile))
    compose_env = load_yaml(ROOT / "docker-compose.yml")["services"]["pricewatch"]["environment"]
    default_url = re.fullmatch(r"\$\{PRICEWATCH_DATABASE_URL:-(.+)\}",
                               compose_env["PRICEWATCH_DATABASE_URL"])
    assert default_url is not None
    environ["PRICEWATCH_DATABASE_URL"] = default_url.group(1)
    plain = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    settings = config.loads(plain, file="/config/config.yaml", environ=environ)
    assert settings.model.server.host == "0.0.0.0"
    assert settings.model.server.port == 9108
    assert settings.database_url == "sqlite:////data/pricewatch.db"


def test_every_panel_and_alert_is_described() -> None:
    """The README's panel table lists exactly the dashboard's panels, and names every alert."""
    section = _docker_section()
    described = set(re.findall(r"^\| ([^|]+?) \| [^|]+ \|$", section, re.M)) - {"panel"}
    titles = {p["title"] for p in panels(load_dashboard())}
    assert titles <= described, titles - described
    alerts = [q.where.removeprefix("alert ") for q in rule_queries(load_yaml(RULES))
              if q.kind == "alert"]
    for alert in alerts:
        assert f"`{alert}`" in section, alert


@pytest.mark.postgres
async def test_history_query_runs_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    """The README's SQL for the PostgreSQL datasource returns the prices a round stored."""
    products = catalog(6)
    runner, base = await shop.start(size=6)
    try:
        text = demo_config(products, base)
        assert "url: sqlite:///pricewatch-demo.db" in text
        path = tmp_path / "config.yaml"
        path.write_text(text.replace("sqlite:///pricewatch-demo.db", postgres_url),
                        encoding="utf-8")
        await run_once(config.load(path, environ={}))
    finally:
        await runner.cleanup()
    # What Grafana's $__timeFilter macro expands to.
    sql = _block("sql").replace(
        "$__timeFilter(c.observed_at)",
        "c.observed_at BETWEEN now() - interval '1 hour' AND now() + interval '1 minute'")
    conn = await asyncpg.connect(postgres_url)
    try:
        rows = await conn.fetch(sql)
    finally:
        await conn.close()
    assert {r["metric"] for r in rows} == {f"{p.id}@demo-shop" for p in products}
    assert all(r["price"] > 0 for r in rows)
