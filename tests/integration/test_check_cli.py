"""`pricewatch check` on saved pages and on a real local shop: the readable table, the JSON
contract, and the exit codes."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest
from aiohttp import web

from pricewatch.cli import main
from tests.conftest import ServeFn

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "corpus"
CRAIGSLIST = FIXTURES / "pe-3d3ee8ebe156.html.gz"
CRAIGSLIST_URL = "https://manchester.craigslist.org/app/d/salford/7235216655.html"
KEYS = {"price", "currency", "in_stock", "title", "image", "extractor", "outcome", "detail",
        "evidence", "candidates"}
AMBIGUOUS = Path(__file__).resolve().parents[1] / "fixtures" / "pages" / "ambiguous.html"
CLP_PAGE = (
    '<html><head><title>Tetera</title></head><body><h1>Tetera</h1>'
    '<span class="price">$24.990</span><button>Agregar al carro</button></body></html>'
)


def test_saved_file_text_explains_the_winner(capsys: pytest.CaptureFixture[str]) -> None:
    """The text rendering shows the verdict, every candidate with the winner marked, and the
    rule that chose it."""
    assert main(["check", str(CRAIGSLIST), "--url", CRAIGSLIST_URL]) == 0
    out = capsys.readouterr().out
    assert "50 GBP" in out
    assert "price candidates (2; * = chosen)" in out
    assert "*  jsonld" in out
    assert "chosen by the rule: structured data confirmed by the page" in out


def test_saved_file_json_contract(capsys: pytest.CaptureFixture[str]) -> None:
    """--json prints exactly one object with the documented keys; price is a plain string."""
    assert main(["check", str(CRAIGSLIST), "--url", CRAIGSLIST_URL, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert set(data) == KEYS
    assert (data["price"], data["currency"], data["outcome"]) == ("50", "GBP", "ok")
    assert data["extractor"] == "jsonld"
    assert data["in_stock"] is True


def test_ambiguous_page_lists_candidates_with_pinning_selectors(
    capsys: pytest.CaptureFixture[str],
) -> None:
    """An ambiguous page exits 1 with outcome no_price; each candidate's selector, used as
    the offer's rule, gives exactly that candidate's price."""
    url = "https://shop.example.com/p/1"
    assert main(["check", str(AMBIGUOUS), "--url", url, "--json"]) == 1
    data = json.loads(capsys.readouterr().out)
    assert (data["outcome"], data["detail"], data["price"]) == ("no_price", "ambiguous", None)
    assert {c["price"] for c in data["candidates"]} == {"45", "39"}
    for candidate in data["candidates"]:
        assert candidate["selector"]
        assert main(["check", str(AMBIGUOUS), "--url", url, "--json",
                     "--selector", candidate["selector"]]) == 0
        pinned = json.loads(capsys.readouterr().out)
        assert pinned["price"] == candidate["price"]
    assert main(["check", str(AMBIGUOUS), "--url", url]) == 1
    text = capsys.readouterr().out
    assert "ambiguous: 2 close candidates" in text
    assert "div.info > span.price" in text


def test_saved_plain_file_with_selector_and_url_hint(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """An uncompressed file, a CSS selector, and --url whose .cl domain makes "$" pesos."""
    page = tmp_path / "tetera.html"
    page.write_text(CLP_PAGE, encoding="utf-8")
    code = main(["check", str(page), "--url", "https://tienda.cl/p/1", "--selector", ".price",
                 "--json"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (data["price"], data["currency"], data["extractor"]) == ("24990", "CLP", "selector")


def test_bad_selector_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """An unusable selector exits 2 with a message, before anything is read or fetched."""
    assert main(["check", str(CRAIGSLIST), "--selector", "[["]) == 2
    assert "invalid CSS selector" in capsys.readouterr().err


def test_missing_file_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    """A TARGET that is neither a URL nor a file exits 2."""
    assert main(["check", "/nonexistent/page.html"]) == 2
    assert "no such file" in capsys.readouterr().err


async def _cli(*args: str) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pricewatch.cli", "check", *args,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await proc.communicate()
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_url_against_a_local_shop(serve: ServeFn) -> None:
    """A URL is fetched with the project's fetcher: a priced page, a page without a price,
    and a 404 give outcome ok / no_price / http_error with exit codes 0 / 1 / 1."""

    async def product(_: web.Request) -> web.Response:
        return web.Response(text=CLP_PAGE, content_type="text/html")

    async def empty(_: web.Request) -> web.Response:
        return web.Response(text="<html><body><h1>Pronto</h1></body></html>",
                            content_type="text/html")

    base = await serve({"/p": product, "/empty": empty})

    code, out, err = await _cli(f"{base}/p", "--currency", "CLP", "--json")
    data = json.loads(out)
    assert code == 0, err
    assert set(data) == KEYS
    assert (data["price"], data["currency"], data["outcome"]) == ("24990", "CLP", "ok")
    assert (data["in_stock"], data["title"]) == (True, "Tetera")

    code, out, _ = await _cli(f"{base}/p", "--currency", "CLP")
    assert code == 0
    assert "24990 CLP" in out
    assert f"GET {base}/p -> 200" in out

    code, out, _ = await _cli(f"{base}/empty", "--json")
    assert code == 1
    assert json.loads(out)["outcome"] == "no_price"

    code, out, err = await _cli(f"{base}/missing", "--json")
    assert code == 1
    data = json.loads(out)
    assert (data["outcome"], data["price"]) == ("http_error", None)
    assert "HTTP 404" in err

    code, out, _ = await _cli(f"{base}/missing")
    assert code == 1
    assert "outcome: http_error" in out
