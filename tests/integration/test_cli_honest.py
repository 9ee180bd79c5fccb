"""The CLI's exits and answers tell the truth: failed rounds, names, schema drift."""

from __future__ import annotations

import asyncio
import sqlite3
from pathlib import Path

import pytest
from aiohttp import web

from pricewatch import cli
from tests.conftest import ServeFn


async def ok_page(_: web.Request) -> web.Response:
    return web.Response(text='<html><body><h1>Kettle</h1><span class="price">$19.99</span>'
                        "</body></html>", content_type="text/html")


async def gone(_: web.Request) -> web.Response:
    return web.Response(status=404, text="gone")


def write_config(tmp_path: Path, base: str, paths: list[str]) -> Path:
    lines = ["database:", "  url: sqlite:///pw.db", "http:", "  per_host_delay: 0s",
             "  obey_robots: false", "  retries: {attempts: 1}", "products:"]
    for i, path in enumerate(paths):
        lines += [f"  - id: p{i}", f"    name: Product {i}", "    offers:",
                  f"      - url: {base}{path}", '        selector: ".price"']
    cfg = tmp_path / "config.yaml"
    cfg.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return cfg


@pytest.mark.parametrize("case", [
    (["/ok", "/ok"], [], 0),
    (["/ok", "/gone"], [], 3),
    (["/gone", "/gone"], [], 4),
    (["/gone", "/gone"], ["--allow-failures"], 0),
], ids=["all-ok", "some-failed", "all-failed", "allowed"])
async def test_once_exit_code_says_whether_checks_failed(
        serve: ServeFn, tmp_path: Path, capsys: pytest.CaptureFixture[str],
        case: tuple[list[str], list[str], int]) -> None:
    """`once` exits 3 when some checks failed, 4 when all did, 0 otherwise or when allowed,
    and says on stderr which outcomes failed."""
    paths, flags, code = case
    base = await serve({"/ok": ok_page, "/gone": gone})
    cfg = write_config(tmp_path, base, paths)
    assert await asyncio.to_thread(cli.main, ["once", "-c", str(cfg), *flags]) == code
    err = capsys.readouterr().err
    failed = paths.count("/gone")
    if failed:
        assert f"{failed} of {len(paths)} checks failed (http_error {failed})" in err
    else:
        assert "failed" not in err


def test_history_takes_a_product_name(tmp_path: Path, capsys: pytest.CaptureFixture[str]
                                      ) -> None:
    """`history "classic kettle"` finds the product named Classic Kettle; a name two
    products share lists both ids instead of guessing."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text(
        "database: {url: 'sqlite:///pw.db'}\nproducts:\n"
        "  - {id: kettle, name: Classic Kettle, offers: [{url: 'http://a.example/k'}]}\n"
        "  - {id: lamp-a, name: Lamp, offers: [{url: 'http://a.example/l'}]}\n"
        "  - {id: lamp-b, name: Lamp, offers: [{url: 'http://b.example/l'}]}\n",
        encoding="utf-8")
    assert cli.main(["db", "upgrade", "-c", str(cfg)]) == 0
    capsys.readouterr()
    assert cli.main(["history", "classic kettle", "-c", str(cfg)]) == 0
    assert "kettle@a.example: 0 most recent checks" in capsys.readouterr().out
    assert cli.main(["history", "LAMP", "-c", str(cfg)]) == 2
    err = capsys.readouterr().err
    assert "2 products are named 'LAMP'" in err
    assert "lamp-a (Lamp), lamp-b (Lamp)" in err
    assert cli.main(["history", "Teapot", "-c", str(cfg)]) == 2
    assert "no offer, product id or product name 'Teapot'" in capsys.readouterr().err


def test_db_check_says_schema_matches_or_lists_drift(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """`db check` prints "schema matches" on a migrated database and names an extra column
    someone added by hand (exit 1)."""
    cfg = tmp_path / "config.yaml"
    cfg.write_text("database: {url: 'sqlite:///pw.db'}\n", encoding="utf-8")
    assert cli.main(["db", "upgrade", "-c", str(cfg)]) == 0
    upgraded = capsys.readouterr().out
    assert cli.main(["db", "check", "-c", str(cfg)]) == 0
    checked = capsys.readouterr().out
    assert "schema matches the models" in checked
    assert checked != upgraded  # not the same line as `db current`
    with sqlite3.connect(tmp_path / "pw.db") as conn:
        conn.execute("ALTER TABLE checks ADD COLUMN note TEXT")
    assert cli.main(["db", "check", "-c", str(cfg)]) == 1
    err = capsys.readouterr().err
    assert "the schema differs from the models in 1 place(s)" in err
    assert "column checks.note: in the database, not in the models" in err
