"""The README's Docker, backup, Grafana and alerts sections say what the files do: its config,
panels, alerts, SQL and backup lines work."""

from __future__ import annotations

import asyncio
import re
import shlex
import subprocess
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import asyncpg
import pytest
from sqlalchemy import func, select

from pricewatch import config
from pricewatch.db import migrate
from pricewatch.db.database import open_database, sync
from pricewatch.db.repository import PendingCheck, insert_checks
from pricewatch.db.tables import checks
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog
from pricewatch.demo.config import demo_config
from pricewatch.models import Check, Outcome
from pricewatch.runtime.rounds import run_once
from tests.deploy.support import (
    ROOT,
    RULES,
    all_dashboards,
    load_yaml,
    panels,
    rule_queries,
    tool,
)

README = (ROOT / "README.md").read_text(encoding="utf-8")


def _section(title: str) -> str:
    match = re.search(rf"^## {re.escape(title)}\n(.*?)(?=^## |\Z)", README, re.M | re.S)
    assert match is not None, f"README has no '## {title}' section"
    return match.group(1)


def _blocks(title: str, language: str) -> list[str]:
    return [str(b) for b in re.findall(rf"^```{language}\n(.*?)^```", _section(title),
                                       re.M | re.S)]


def test_a_plain_config_in_the_container_serves_on_all_interfaces_and_uses_postgres() -> None:
    """With the image's and compose's environment, an unmodified config listens on 0.0.0.0
    (Prometheus can scrape it) and stores in the compose file's PostgreSQL service."""
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    environ = dict(re.findall(r"(PRICEWATCH_[A-Z_]+)=(\S+)", dockerfile))
    compose_env = load_yaml(ROOT / "docker-compose.yml")["services"]["pricewatch"]["environment"]
    default_url = re.fullmatch(r"\$\{PRICEWATCH_DATABASE_URL:-(.+)\}",
                               compose_env["PRICEWATCH_DATABASE_URL"])
    assert default_url is not None
    environ["PRICEWATCH_DATABASE_URL"] = default_url.group(1).replace(
        "${POSTGRES_PASSWORD}", "secret")
    plain = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    settings = config.loads(plain, file="/config/config.yaml", environ=environ)
    assert settings.model.server.host == "0.0.0.0"
    assert settings.model.server.port == 9108
    assert settings.database_url == "postgresql://pricewatch:secret@postgres:5432/pricewatch"


def test_the_docker_section_names_the_files_it_relies_on() -> None:
    """The Docker section's setup lines copy files that exist into the directory compose
    mounts, and the upgrade is the rebuild the compose file's header names."""
    docker = _section("Docker")
    assert "mkdir -p config && cp config.example.yaml config/config.yaml" in docker
    assert "cp .env.example .env" in docker
    assert "${PRICEWATCH_CONFIG_DIR:-./config}" in (ROOT / "docker-compose.yml").read_text(
        encoding="utf-8")
    assert "docker compose up -d --build" in _blocks("Upgrade, backup and restore", "sh")[0]
    assert (ROOT / "docker-compose.postgres-port.yml").exists()


def test_every_panel_is_described_and_every_health_alert_named() -> None:
    """The Grafana section's panel tables list every dashboard's panels, and the Alerts section
    names every Prometheus alert."""
    section = _section("Grafana")
    described = set(re.findall(r"^\| ([^|]+?) \| [^|]+ \|$", section, re.M)) - {"panel"}
    titles = {p["title"].removesuffix(" (${currency})") for d in all_dashboards().values()
              for p in panels(d)}
    assert titles <= described, titles - described
    alerts = [q.where.removeprefix("alert ") for q in rule_queries(load_yaml(RULES))
              if q.kind == "alert"]
    for alert in alerts:
        assert f"`{alert}`" in _section("Alerts"), alert


def test_readme_links_to_files_that_exist_or_are_promised() -> None:
    """Every relative link of the README points at a file of the repository, and the README
    links every document of docs/."""
    links = set(re.findall(r"\]\(((?!https?:|#)[^)\s]+)\)", README))
    docs = {f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md")}
    assert {"LICENSE"} | docs <= links, ({"LICENSE"} | docs) - links
    missing = {link for link in links if not (ROOT / link).exists()}
    assert not missing, missing


@pytest.mark.postgres
async def test_history_query_runs_on_postgres(tmp_path: Path, postgres_url: str) -> None:
    """The Grafana section's SQL for the PostgreSQL datasource returns the prices a round
    stored."""
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
    sql = _blocks("Grafana", "sql")[0].replace(
        "$__timeFilter(c.observed_at)",
        "c.observed_at BETWEEN now() - interval '1 hour' AND now() + interval '1 minute'")
    conn = await asyncpg.connect(postgres_url)
    try:
        rows = await conn.fetch(sql)
    finally:
        await conn.close()
    assert {r["metric"] for r in rows} == {f"{p.id}@demo-shop" for p in products}
    assert all(r["price"] > 0 for r in rows)


def _pg_line(program: str) -> tuple[list[str], str]:
    """The README's `docker compose exec -T postgres <program> ...` line, as argv for the
    local server, and the shell redirection it ends with."""
    backup = _section("Upgrade, backup and restore")
    match = re.search(rf"^docker compose exec -T postgres ({program} .+?) ([<>]) \S+$", backup,
                      re.M)
    assert match is not None, f"no {program} line in the backup section"
    return shlex.split(match.group(1)), match.group(2)


def _local(argv: list[str], dsn: str) -> list[str]:
    """The same command against the test server: its host and user, the test database."""
    host, user, database = _parts(dsn)
    binary = tool(argv[0], "apt-get install postgresql-client; .ci/run installs it")
    out = [str(binary)]
    for i, arg in enumerate(argv[1:], start=1):
        if argv[i - 1] == "-U":
            out.append(user)
        elif arg == "pricewatch":  # the database name, positional or after -d
            out.append(database)
        else:
            out.append(arg)
    return [*out[:1], "-h", host, *out[1:]]


def _parts(dsn: str) -> tuple[str, str, str]:
    match = re.fullmatch(r"postgresql://(\w+)@([\w.]+):\d+/(\w+)", dsn)
    assert match is not None, dsn
    return match.group(2), match.group(1), match.group(3)


@pytest.mark.postgres
async def test_postgres_backup_taken_while_writing_restores_every_committed_check(
    tmp_path: Path, postgres_url: str,
) -> None:
    """The README's pg_dump line, run while checks are being written, and its pg_restore line
    over an existing pricewatch database give a database with every check committed before
    the dump began, which pricewatch opens at the newest schema."""
    dump_argv, dump_redirect = _pg_line("pg_dump")
    restore_argv, restore_redirect = _pg_line("pg_restore")
    assert (dump_redirect, restore_redirect) == (">", "<")
    products = catalog(3)
    text = demo_config(products, "http://127.0.0.1:9").replace(
        "sqlite:///pricewatch-demo.db", postgres_url)
    settings = config.loads(text, environ={})
    offers = settings.offers()
    async with open_database(settings) as engine:
        ids = await sync(engine, offers)
        stop = asyncio.Event()

        async def keep_writing() -> None:
            n = 0
            while not stop.is_set():
                n += 1
                now = datetime.now(UTC)
                async with engine.begin() as conn:
                    await insert_checks(conn, [PendingCheck(ids[o.key], Check(
                        o.key, now, Outcome.OK, price=Decimal(n), currency="EUR"))
                        for o in offers])
                await asyncio.sleep(0.01)

        async def count() -> int:
            async with engine.connect() as conn:
                return int((await conn.execute(select(func.count()).select_from(checks)))
                           .scalar_one())

        writer = asyncio.create_task(keep_writing())
        await asyncio.sleep(0.3)
        before = await count()
        dump = tmp_path / "pricewatch.pgdump"
        with dump.open("wb") as out:
            done = await asyncio.to_thread(subprocess.run, _local(dump_argv, postgres_url),
                                           stdout=out, stderr=subprocess.PIPE, check=False)
        assert done.returncode == 0, done.stderr
        await asyncio.sleep(0.1)
        stop.set()
        await writer
        after = await count()
    assert after > before > 0
    # Restore over a second, already migrated pricewatch database, as the README does.
    target = postgres_url.rsplit("/", 1)[0] + "/" + _parts(postgres_url)[2] + "_restored"
    admin = await asyncpg.connect(postgres_url)
    await admin.execute(f'CREATE DATABASE "{target.rsplit("/", 1)[1]}"')
    try:
        other = config.loads(text.replace(postgres_url, target), environ={})
        async with open_database(other):
            pass
        with dump.open("rb") as inp:
            done = await asyncio.to_thread(subprocess.run, _local(restore_argv, target),
                                           stdin=inp, stderr=subprocess.PIPE, check=False)
        assert done.returncode == 0, done.stderr
        async with open_database(other, upgrade=False) as engine:
            assert await migrate.current_revision(engine) == migrate.HEAD
            assert await migrate.drift(engine) == []
            async with engine.connect() as conn:
                restored = int((await conn.execute(select(func.count()).select_from(checks)))
                               .scalar_one())
        assert before <= restored <= after
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{target.rsplit("/", 1)[1]}" WITH (FORCE)')
        await admin.close()
