"""The browser from the command line: `pricewatch check URL --browser --screenshot FILE`, and
`once` refusing to start when offers need a browser that is not there."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path

import pytest

from tests.integration.browser.conftest import Shop, need_chromium
from tests.integration.browser.shop import price_of

pytestmark = [pytest.mark.slow, pytest.mark.asyncio(loop_scope="module")]
PNG = b"\x89PNG\r\n\x1a\n"


async def pricewatch(*args: str, cwd: Path | None = None) -> tuple[int, str, str]:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pricewatch.cli", *args, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(proc.communicate(), timeout=90)
    assert proc.returncode is not None
    return proc.returncode, out.decode(), err.decode()


async def test_check_browser_shows_the_rendered_price_and_saves_a_screenshot(
        shop: Shop, tmp_path: Path) -> None:
    """Without --browser a shadow-root price is not found (exit 1); with it the rendered
    page gives the price (exit 0) and --screenshot writes a PNG of it; --screenshot alone
    is a usage error."""
    need_chromium()
    url = f"{shop.base}/shadow/4"
    code, out, _ = await pricewatch("check", url, "--json")
    assert (code, json.loads(out)["outcome"]) == (1, "no_price")
    shot = tmp_path / "page.png"
    code, out, err = await pricewatch("check", url, "--browser", "--selector", ".price",
                                      "--screenshot", str(shot), "--json")
    assert code == 0, err
    assert json.loads(out)["price"] == price_of(4)
    assert shot.read_bytes().startswith(PNG)
    code, _, err = await pricewatch("check", url, "--screenshot", str(shot))
    assert code == 2
    assert "--screenshot needs --browser" in err


async def test_once_without_a_browser_exits_2_naming_the_setting(shop: Shop,
                                                               tmp_path: Path) -> None:
    """A config with a browser offer and an executable_path that does not exist: `once`
    stores nothing and exits 2 with file-free, field-named advice, no traceback."""
    config = tmp_path / "config.yaml"
    config.write_text(f"""\
browser: {{executable_path: /nonexistent/chromium}}
products:
  - id: p
    name: P
    offers:
      - {{url: '{shop.base}/delay/1', fetcher: browser, selector: .price}}
""", encoding="utf-8")
    code, _, err = await pricewatch("once", "-c", str(config), cwd=tmp_path)
    assert code == 2
    assert "browser.executable_path: /nonexistent/chromium: no such executable" in err
    assert "Traceback" not in err
    assert not (tmp_path / "pricewatch.db").exists()
