"""`pricewatch once` against a real local shop writes one row per offer, on SQLite and Postgres."""

from __future__ import annotations

import asyncio
import sys
from decimal import Decimal
from pathlib import Path

import pytest
from aiohttp import web
from sqlalchemy import select

from pricewatch import config
from pricewatch.db.database import open_database
from pricewatch.db.tables import checks, offers
from pricewatch.models import Outcome
from pricewatch.runtime.rounds import run_once
from tests.conftest import ServeFn


async def ok_page(_: web.Request) -> web.Response:
    return web.Response(text='<html><body><h1>Kettle</h1><span class="price">$19.99</span>'
                        "</body></html>", content_type="text/html")


async def german_page(_: web.Request) -> web.Response:
    return web.Response(text='<html lang="de"><body><span class="price">1.226 EUR</span>'
                        "</body></html>", content_type="text/html")


async def no_price_page(_: web.Request) -> web.Response:
    return web.Response(text="<html><body><p>Coming soon</p></body></html>",
                        content_type="text/html")


async def slow_page(_: web.Request) -> web.Response:
    await asyncio.sleep(5)
    return web.Response(text="late")


def shop_config(base: str, free_port: int, database: str) -> str:
    return f"""\
database:
  url: {database}
http:
  per_host_delay: 0s
  timeouts: {{connect: 2s, read: 2s, total: 2s}}
  retries: {{attempts: 1}}
  obey_robots: false
products:
  - id: kettle
    name: Kettle
    offers:
      - url: {base}/ok
        selector: ".price"
  - id: lamp
    name: Lamp
    offers:
      - url: {base}/de
        selector: ".price"
  - id: gone
    name: Gone
    offers:
      - url: {base}/missing
        selector: ".price"
  - id: slow
    name: Slow
    offers:
      - url: {base}/slow
        selector: ".price"
        timeouts: {{total: 500ms}}
  - id: refused
    name: Refused
    offers:
      - url: http://127.0.0.1:{free_port}/x
        selector: ".price"
  - id: soon
    name: Coming soon
    offers:
      - url: {base}/soon
        selector: ".price"
"""


async def start_shop(serve: ServeFn) -> str:
    return await serve({"/ok": ok_page, "/de": german_page, "/soon": no_price_page,
                        "/slow": slow_page})


async def stored_rows(settings: config.Settings) -> dict[str, list[dict[str, object]]]:
    async with open_database(settings, upgrade=False) as engine, engine.connect() as conn:
        result = await conn.execute(
            select(offers.c.key, checks).join(offers, offers.c.id == checks.c.offer_id)
        )
        rows: dict[str, list[dict[str, object]]] = {}
        for row in result.mappings():
            rows.setdefault(str(row["key"]).split("@")[0], []).append(dict(row))
        return rows


def assert_round(rows: dict[str, list[dict[str, object]]]) -> None:
    assert {k: len(v) for k, v in rows.items()} == {
        "kettle": 1, "lamp": 1, "gone": 1, "slow": 1, "refused": 1, "soon": 1}
    one = {k: v[0] for k, v in rows.items()}
    assert one["kettle"]["outcome"] == "ok"
    assert one["kettle"]["price"] == Decimal("19.99")
    assert one["kettle"]["currency"] == "USD"
    assert one["lamp"]["price"] == Decimal("1226")  # German thousands separator, not 1.226
    assert one["lamp"]["currency"] == "EUR"
    assert one["gone"]["outcome"] == Outcome.HTTP_ERROR
    assert one["gone"]["http_status"] == 404
    assert one["slow"]["outcome"] == Outcome.TIMEOUT
    assert one["refused"]["outcome"] == Outcome.NETWORK_ERROR
    assert one["soon"]["outcome"] == Outcome.NO_PRICE
    assert ".price" in str(one["soon"]["error"])
    for key in ("gone", "slow", "refused", "soon"):
        assert one[key]["price"] is None, key
        assert one[key]["error"], key


async def test_once_sqlite_writes_one_row_per_offer(
    serve: ServeFn, free_port: int, tmp_path: Path
) -> None:
    """Every offer gets exactly one row; failures carry an outcome and error, never a price."""
    base = await start_shop(serve)
    path = tmp_path / "config.yaml"
    path.write_text(shop_config(base, free_port, "sqlite:///pw.db"), encoding="utf-8")
    settings = config.load(path, environ={})
    result = await run_once(settings)
    assert result.written == 6
    assert (tmp_path / "pw.db").exists()
    assert_round(await stored_rows(settings))


@pytest.mark.postgres
async def test_once_postgres_writes_one_row_per_offer(
    serve: ServeFn, free_port: int, tmp_path: Path, postgres_url: str
) -> None:
    """The same round stores the same rows in PostgreSQL (NUMERIC prices, outcomes)."""
    base = await start_shop(serve)
    path = tmp_path / "config.yaml"
    path.write_text(shop_config(base, free_port, postgres_url), encoding="utf-8")
    settings = config.load(path, environ={})
    await run_once(settings)
    assert_round(await stored_rows(settings))


async def test_once_command_line(serve: ServeFn, free_port: int, tmp_path: Path) -> None:
    """The installed `pricewatch once` command prints the summary and fills the database;
    a second round appends, and a removed product keeps its history."""
    base = await start_shop(serve)
    path = tmp_path / "config.yaml"
    path.write_text(shop_config(base, free_port, "sqlite:///pw.db"), encoding="utf-8")
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pricewatch.cli", "once", "-c", str(path),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode == 3, err.decode()  # the shop's broken pages: some checks failed
    assert "checks failed (" in err.decode()
    text = out.decode()
    assert "kettle@127.0.0.1" in text
    assert "19.99 USD" in text
    assert "6 checks in" in text
    assert "6 rows written" in text

    trimmed = shop_config(base, free_port, "sqlite:///pw.db").split("  - id: lamp")[0]
    path.write_text(trimmed, encoding="utf-8")
    settings = config.load(path, environ={})
    await run_once(settings)
    rows = await stored_rows(settings)
    assert len(rows["kettle"]) == 2
    assert len(rows["lamp"]) == 1  # history kept though the product left the config
    async with open_database(settings, upgrade=False) as engine, engine.connect() as conn:
        active = dict((await conn.execute(select(offers.c.key, offers.c.active))).all())
    assert active[next(k for k in active if k.startswith("kettle"))] is True
    assert active[next(k for k in active if k.startswith("lamp"))] is False
