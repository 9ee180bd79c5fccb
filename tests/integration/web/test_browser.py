"""The web UI in a real headless Chromium (Debian's package, driven by Playwright): what a
user sees, clicks and downloads, with no console errors. Also makes docs/img/ screenshots."""

from __future__ import annotations

import csv
import os
import re
import shutil
import sqlite3
from collections.abc import AsyncIterator
from decimal import Decimal
from pathlib import Path

import pytest

from pricewatch.db.engine import create_engine
from tests.integration.web.conftest import EVIL_URL, Site, current_now, fill, start_site

playwright = pytest.importorskip("playwright.async_api", reason="playwright is not installed")

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
DOCS_IMG = Path(__file__).resolve().parents[3] / "docs" / "img"
pytestmark = pytest.mark.slow


def _need_chromium() -> None:
    if Path(CHROMIUM).exists():
        return
    reason = "Debian's chromium is not installed here (apt-get install chromium; CI installs it)"
    if os.environ.get("PRICEWATCH_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture
async def browser() -> AsyncIterator[object]:
    _need_chromium()
    async with playwright.async_playwright() as pw:
        # --no-sandbox: CI runs as root, where Chromium's sandbox refuses to start.
        launched = await pw.chromium.launch(executable_path=CHROMIUM,
                                            args=["--no-sandbox", "--disable-gpu"])
        yield launched
        await launched.close()


def stored(db: Path, product_id: str) -> list[tuple[str, str, str | None]]:
    with sqlite3.connect(db) as conn:
        return [(k, o, None if p is None else str(p)) for k, o, p in conn.execute(
            "SELECT o.key, c.outcome, c.price FROM checks c JOIN offers o ON o.id = c.offer_id"
            " WHERE o.product_id = ? ORDER BY c.observed_at, c.id", (product_id,))]


def newest(db: Path, product_id: str) -> dict[str, Decimal]:
    out = {}
    for key, outcome, price in stored(db, product_id):
        if outcome == "ok" and price is not None:
            out[key.rsplit("@", 1)[1]] = Decimal(price)
    return out


async def test_a_user_reads_the_history(site: Site, browser: object, tmp_path: Path) -> None:
    """Overview lists every product in the viewer's time zone; the product chart has one
    series per store ending at the stored price; hover shows a value; a range button changes
    the points; the CSV download equals the database rows; no console errors."""
    context = await browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": 1280, "height": 900}, timezone_id="America/New_York",
        accept_downloads=True)
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))

    await page.goto(site.base + "/")
    names = await page.locator("th.pname a").all_inner_texts()
    assert set(names) >= {p.name for _, p in site.offers}
    first_time = page.locator("table.overview time:not(.date)").first
    assert "UTC" not in await first_time.inner_text()  # rewritten into the viewer's zone
    assert "UTC" in (await first_time.get_attribute("title") or "")

    offer, _ = site.offers[0]
    await page.goto(f"{site.base}/products/{offer.product_id}")
    lines = page.locator("svg.chart path.series")
    assert await lines.count() == 2
    db = tmp_path / "web.db"
    want = newest(db, offer.product_id)
    shown = {await lines.nth(i).get_attribute("data-store"):
             Decimal(await lines.nth(i).get_attribute("data-last") or "0") for i in range(2)}
    assert shown == want
    all_points = [await lines.nth(i).get_attribute("data-points") for i in range(2)]

    chart = page.locator("svg.chart").first
    box = await chart.bounding_box()
    assert box is not None
    await page.mouse.move(box["x"] + box["width"] * 0.8, box["y"] + box["height"] / 2)
    hover = page.locator("output.hover").first
    await hover.wait_for(state="visible")
    assert re.search(r"127\.0\.0\.1: \d+\.\d{2} USD", await hover.inner_text())

    await page.evaluate("window.__same_page = true")
    await page.click("a[data-range='7d']")
    await page.wait_for_selector("a[data-range='7d'][aria-current]")
    assert page.url.endswith("?range=7d")
    assert await page.evaluate("window.__same_page") is True  # switched in place, no reload
    week_points = [await lines.nth(i).get_attribute("data-points") for i in range(2)]
    assert week_points != all_points
    assert all(int(w or 0) < int(a or 0) for w, a in zip(week_points, all_points, strict=True))

    await page.click("a[data-range='all']")
    await page.wait_for_selector("a[data-range='all'][aria-current]")
    async with page.expect_download() as info:
        await page.click("text=CSV (every check)")
    download = await info.value
    path = tmp_path / "download.csv"
    await download.save_as(path)
    with path.open(encoding="utf-8") as f:
        rows = [(r["offer"], r["outcome"], r["price"] or None) for r in csv.DictReader(f)]
    assert [(k, o, None if p is None else Decimal(p)) for k, o, p in rows] == [
        (k, o, None if p is None else Decimal(p)) for k, o, p in stored(db, offer.product_id)]

    await page.goto(site.base + "/alerts")
    assert "below target" in await page.inner_text("table.alerts")
    assert errors == []
    await context.close()


async def test_hostile_strings_stay_inert(site: Site, browser: object) -> None:
    """A shop title `<img src=x onerror=...>` renders as text and runs nothing, and a
    javascript: URL is never a link, on the overview and the product page."""
    page = await browser.new_page()  # type: ignore[attr-defined]
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    for path in ("/", "/products/hostile"):
        await page.goto(site.base + path)
        assert await page.locator("img").count() == 0, path
        assert await page.locator("a[href^='javascript']").count() == 0, path
        assert await page.evaluate("window.__pwned") is None, path
        assert "<img src=x onerror=" in await page.inner_text("main"), path
    assert EVIL_URL in (await page.locator(".nolink").first.get_attribute("title") or "")
    assert errors == []
    await page.close()


async def test_screenshots(browser: object, tmp_path: Path) -> None:
    """Screenshots of the overview and a product page (light, dark, phone) for the docs;
    written to docs/img/ when PRICEWATCH_SCREENSHOTS is set."""
    engine = create_engine(f"sqlite:///{tmp_path}/shots.db")
    now = current_now()
    offers, other = await fill(engine, now, hostile_offer=False)
    site, runner = await start_site(engine, offers, other, now)
    out = DOCS_IMG if os.environ.get("PRICEWATCH_SCREENSHOTS") else tmp_path
    out.mkdir(parents=True, exist_ok=True)
    pid = offers[0][0].product_id
    try:
        shots = [("overview.png", "/", "light", 1280, True),
                 ("product.png", f"/products/{pid}", "light", 1280, False),
                 ("product-dark.png", f"/products/{pid}?range=7d", "dark", 1280, False),
                 ("overview-phone.png", "/", "light", 390, False)]
        for name, path, scheme, width, full in shots:
            context = await browser.new_context(  # type: ignore[attr-defined]
                viewport={"width": width, "height": 860}, color_scheme=scheme,
                timezone_id="Europe/Berlin", device_scale_factor=1)
            page = await context.new_page()
            await page.goto(site.base + path)
            await page.screenshot(path=str(out / name), full_page=full)
            await context.close()
            assert (out / name).stat().st_size > 10_000, name
    finally:
        await runner.cleanup()
        await engine.dispose()
