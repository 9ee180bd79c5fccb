"""`pricewatch add URL` against the demo shop: the file keeps every byte outside the added
block, the daemon schedules the new product, and a contested price is asked about."""

from __future__ import annotations

import asyncio
import sqlite3
import subprocess
import sys
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import yaml
from aiohttp import web

from pricewatch import cli, config
from pricewatch.demo import shop
from pricewatch.demo.catalog import catalog, price_at
from pricewatch.extract import explain
from pricewatch.models import ExtractSpec
from tests.conftest import ServeFn, daemon_ready, eventually

NOW = 1_790_000_000.0
ROOT = Path(__file__).resolve().parents[2]

# Comments, blank lines, flow maps, quoting and `null`s a round-trip library would rewrite,
# and a section after the products.
COMMENTED = """\
# My prices.   (two spaces, on purpose)
database:
  url: sqlite:///pw.db   # next to this file
http: {per_host_delay: 0s, obey_robots: false}   # the demo shop is ours
schedule:
  interval: 1h
  catch_up_window: 1s
  jitter: 0

products:
  # the first one
  - id: first
    name: 'First'
    offers:
      - url: BASE/product/FIRST
        locale: null        # stays null, not ~ or empty
        # selector: ".old"  (tried, not needed)

# Nothing below is a product.
server:
  host: 127.0.0.1
  port: PORT
"""


def commented(base: str, first: str, port: int) -> str:
    return COMMENTED.replace("BASE", base).replace("FIRST", first).replace("PORT", str(port))


@pytest.fixture
async def demo() -> AsyncIterator[str]:
    runner, base = await shop.start(size=6, clock=lambda: NOW)
    yield base
    await runner.cleanup()


def add(*argv: str) -> int:
    return cli.main(["add", *argv])


def without(text: str, block: str) -> str:
    assert text.count(block) == 1, text
    return text.replace(block, "", 1)


async def test_add_keeps_every_other_byte_of_a_commented_config(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Adding two products leaves the file byte-for-byte as it was outside the two blocks,
    and the result loads with both at the price the shop shows."""
    products = catalog(6)
    cfg = tmp_path / "config.yaml"
    original = commented(demo, products[0].id, 9)
    cfg.write_text(original, encoding="utf-8")
    url = f"{demo}{products[1].path}"
    assert await asyncio.to_thread(add, url, "-c", str(cfg)) == 0
    out = capsys.readouterr().out
    assert f"{price_at(products[1], NOW)} {products[1].currency}" in out
    assert "Classic Headphones" in out  # the title
    assert "jsonld" in out  # the extractor
    block = (f"  - id: classic-headphones\n    name: Classic Headphones\n    offers:\n"
             f"      - url: {url}\n")
    once = cfg.read_text(encoding="utf-8")
    assert without(once, block) == original
    assert once.index(block) < once.index("# Nothing below is a product.")
    second = f"{demo}{products[2].path}"
    assert await asyncio.to_thread(add, second, "-c", str(cfg), "--name", "Bag: big ${HOME}",
                                   "--id", "bag", "--store", "shop-b") == 0
    twice = cfg.read_text(encoding="utf-8")
    block2 = (f"  - id: bag\n    name: 'Bag: big $${{HOME}}'\n    offers:\n      - url: {second}\n"
              "        store: shop-b\n")
    assert without(without(twice, block2), block) == original
    settings = config.load(cfg, environ={"HOME": "/root"})
    assert settings.offers()[2].product_name == "Bag: big ${HOME}"  # $ kept literally
    assert [o.key for o in settings.offers()] == [
        "first@127.0.0.1", "classic-headphones@127.0.0.1", "bag@shop-b"]


async def test_add_into_the_example_config_keeps_it(demo: str, tmp_path: Path) -> None:
    """config.example.yaml (every option, commented) gains one product and nothing else."""
    cfg = tmp_path / "config.yaml"
    original = (ROOT / "config.example.yaml").read_text(encoding="utf-8")
    cfg.write_text(original, encoding="utf-8")
    url = f"{demo}{catalog(6)[0].path}"
    code = await asyncio.to_thread(
        cli.main, ["add", url, "-c", str(cfg), "--id", "kettle", "--name", "Kettle"])
    assert code == 0
    block = f"  - id: kettle\n    name: Kettle\n    offers:\n      - url: {url}\n"
    assert without(cfg.read_text(encoding="utf-8"), block) == original


async def test_dry_run_prints_the_yaml_and_writes_nothing(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--dry-run prints only the YAML item on stdout (findings go to stderr); the file and
    its mtime stay as they were."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("products: []\n", encoding="utf-8")
    stamp = cfg.stat().st_mtime_ns
    url = f"{demo}{catalog(6)[3].path}"
    assert await asyncio.to_thread(add, url, "-c", str(cfg), "--dry-run") == 0
    captured = capsys.readouterr()
    assert yaml.safe_load(captured.out) == [{"id": "classic-desk-lamp",
                                             "name": "Classic Desk Lamp",
                                             "offers": [{"url": url}]}]
    assert "price" in captured.err
    assert cfg.read_text(encoding="utf-8") == "products: []\n"
    assert cfg.stat().st_mtime_ns == stamp


async def test_duplicates_are_refused_and_nothing_is_written(
        demo: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A taken id, a URL already watched and a bad slug are usage errors; the file stays."""
    products = catalog(6)
    cfg = tmp_path / "config.yaml"
    original = commented(demo, products[0].id, 9)
    cfg.write_text(original, encoding="utf-8")
    assert await asyncio.to_thread(add, f"{demo}{products[1].path}", "-c", str(cfg),
                                   "--id", "first") == 2
    assert "product id 'first' is already in the config" in capsys.readouterr().err
    assert await asyncio.to_thread(add, f"{demo}{products[0].path}", "-c", str(cfg)) == 2
    assert "is already watched as first@127.0.0.1" in capsys.readouterr().err
    assert await asyncio.to_thread(add, f"{demo}{products[1].path}", "-c", str(cfg),
                                   "--id", "Not A Slug") == 2
    assert "must be a slug" in capsys.readouterr().err
    assert cfg.read_text(encoding="utf-8") == original


TWO_PRICES = ("<html><head><title>Lamp</title></head><body><h1>Lamp</h1>"
              '<div class="buy"><span class="price">$19.99</span></div>'
              '<div class="buy"><span class="price">$24.99</span></div></body></html>')


async def two_prices(_: web.Request) -> web.Response:
    return web.Response(text=TWO_PRICES, content_type="text/html")


async def test_a_contested_price_lists_candidates_with_selectors(
        serve: ServeFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """Two equally likely prices: nothing is added, both are listed, each with a selector
    that reads exactly it; adding with the second one's selector stores that selector."""
    base = await serve({"/lamp": two_prices})
    cfg = tmp_path / "config.yaml"
    cfg.write_text("products: []\n", encoding="utf-8")
    url = f"{base}/lamp"
    assert await asyncio.to_thread(add, url, "-c", str(cfg)) == 1
    out = capsys.readouterr().out
    assert "The price is not clear on this page" in out
    assert "19.99 USD" in out
    assert "24.99 USD" in out
    assert "nothing added" in out
    assert cfg.read_text(encoding="utf-8") == "products: []\n"
    offered = [line.split("--selector ", 1)[1].split("   #")[0].strip("'")
               for line in out.splitlines() if "--selector" in line]
    assert len(offered) == 2
    read = [explain(TWO_PRICES, url=url, spec=ExtractSpec(selector=s)).result.price
            for s in offered]
    assert [str(p) for p in read] == ["19.99", "24.99"]
    assert await asyncio.to_thread(add, url, "-c", str(cfg), "--selector", offered[1]) == 0
    (offer,) = config.load(cfg, environ={}).offers()
    assert offer.extract.selector == offered[1]


async def test_a_page_without_a_price_adds_nothing(
        serve: ServeFn, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """No price on the page: exit 1 with the reason, and the file is not touched."""
    async def soon(_: web.Request) -> web.Response:
        return web.Response(text="<html><body><h1>Soon</h1></body></html>",
                            content_type="text/html")

    base = await serve({"/soon": soon})
    cfg = tmp_path / "config.yaml"
    assert await asyncio.to_thread(add, f"{base}/soon", "-c", str(cfg)) == 1
    assert "no price found" in capsys.readouterr().out
    assert not cfg.exists()


@pytest.mark.slow
async def test_a_running_daemon_schedules_the_added_product(
        demo: str, tmp_path: Path, free_port: int) -> None:
    """`pricewatch run` watches the file: a product added with `pricewatch add` gets checked
    and stored without a restart or a signal."""
    products = catalog(6)
    cfg = tmp_path / "config.yaml"
    cfg.write_text(commented(demo, products[0].id, free_port)
                   .replace("interval: 1h", "interval: 2s"), encoding="utf-8")
    log_path = tmp_path / "daemon.log"
    with log_path.open("w") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "pricewatch.cli", "run", "-c", str(cfg)],
            stdout=log, stderr=subprocess.STDOUT, cwd=tmp_path)
        try:
            await eventually(lambda: daemon_ready(free_port), 30, "/readyz")
            url = f"{demo}{products[4].path}"
            assert await asyncio.to_thread(add, url, "-c", str(cfg), "--id", "espresso") == 0

            def checked() -> list[str]:
                with sqlite3.connect(tmp_path / "pw.db") as conn:
                    return [row[0] for row in conn.execute(
                        "SELECT c.outcome FROM checks c JOIN offers o ON o.id = c.offer_id "
                        "WHERE o.key = 'espresso@127.0.0.1'")]

            await eventually(lambda: asyncio.sleep(0, bool(checked())), 30,
                             "a stored check of the added product")
            assert checked()[0] == "ok"
        finally:
            proc.terminate()
            await asyncio.to_thread(proc.wait, 30)
    assert "config reloaded" in log_path.read_text(encoding="utf-8")


async def test_add_without_a_config_creates_one(demo: str, tmp_path: Path) -> None:
    """No config file yet: `add` writes one holding just the product, and it loads."""
    cfg = tmp_path / "config.yaml"
    url = f"{demo}{catalog(6)[5].path}"
    assert await asyncio.to_thread(add, url, "-c", str(cfg)) == 0
    assert cfg.read_text(encoding="utf-8").startswith("products:\n  - id: classic-keyboard\n")
    (offer,) = config.load(cfg, environ={}).offers()
    assert offer.url == url
