"""`pricewatch discover` against a local multi-page shop that logs every request it serves:
what is found, what is never fetched, and how the bounds and the delay hold (server-side)."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import re
import signal
import sys
from collections import Counter
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from pricewatch import cli, config
from tests.integration.discover import shop

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
async def site() -> AsyncIterator[tuple[str, shop.Log]]:
    log = shop.Log()
    runner, base = await shop.start(log)
    yield base, log
    await runner.cleanup()


def conf(tmp_path: Path, delay: str = "0s", extra: str = "") -> Path:
    path = tmp_path / "config.yaml"
    path.write_text(f"http:\n  per_host_delay: {delay}\n{extra}", encoding="utf-8")
    return path


async def discover(*argv: str) -> int:
    return await asyncio.to_thread(cli.main, ["discover", *argv])


def found_json(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def slugs(items: list[dict[str, object]]) -> list[str]:
    return [str(i["url"]).rsplit("/", 1)[-1] for i in items]


async def test_whole_shop_finds_every_product_once_and_fetches_nothing_disallowed(
        site: tuple[str, shop.Log], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """From the home page with the site's sitemaps: every public product and the orphan the
    gzipped sitemap names are found exactly once (tracking parameters stripped, the red
    variant under its rel=canonical, a one-card listing page not taken for a product); no
    URL is requested twice, nothing under the disallowed /private/ is requested, no other
    host and no nofollow link is visited, the calendar trap stops at the pattern cap, and
    progress and the summary go to stderr."""
    base, log = site
    code = await discover(f"{base}/?utm_source=newsletter", "-c", str(conf(tmp_path)),
                          "--depth", "3", "--sitemap", "--per-pattern", "5", "--json")
    out, err = capsys.readouterr()
    assert code == 0, err
    items = found_json(out)
    assert sorted(slugs(items)) == sorted(shop.PUBLIC | {"orphan-grinder"})
    assert all(item["price"] and item["currency"] == "EUR" for item in items)
    paths = log.paths()
    assert [p for p, n in Counter(paths).items() if n > 1] == []
    assert not [p for p in paths if p.startswith("/private/")]
    assert {host for _, host, _ in log.requests} == {base.removeprefix("http://")}
    assert "/go/elsewhere" not in paths
    assert not [p for p in paths if "utm_" in p or "gclid" in p or "fbclid" in p]
    calendar = [p for p in paths if p.startswith("/calendar/")]
    assert len(calendar) == 5  # the cap: five calendar pages in a row
    assert "/sitemaps/products.xml.gz" in paths
    assert "1 disallowed by robots.txt" in err
    assert re.search(r"discover: \d+ pages fetched, \d+ queued, \d+ products found, "
                     r"[\d.]+ pages/s", err)


async def test_depth_is_link_hops_and_pagination_keeps_its_depth(
        site: tuple[str, shop.Log], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """At depth 1 from the kettles listing, its later pages (rel=next) are followed at
    depth 0 and their products found, while the toaster listing one hop away is fetched but
    its products (two hops) are not; at depth 0 only the start listing's own pages are
    requested."""
    base, log = site
    cfg = conf(tmp_path)
    assert await discover(f"{base}/c/kettles", "-c", str(cfg), "--depth", "1", "--json") == 0
    out, _ = capsys.readouterr()
    assert sorted(slugs(found_json(out))) == sorted(
        ["steel-kettle", "glass-kettle", "retro-kettle", "travel-kettle", "smart-kettle",
         "kettle-red"])
    paths = log.paths()
    assert "/c/kettles?page=3" in paths
    assert "/c/toasters" in paths
    assert not [p for p in paths if "toaster" in p and p.startswith("/p/")]
    log.requests.clear()
    assert await discover(f"{base}/c/kettles", "-c", str(cfg), "--depth", "0") == 1
    assert log.pages() == ["/c/kettles", "/c/kettles?page=2", "/c/kettles?page=3"]


async def test_max_pages_caps_the_requests(
        site: tuple[str, shop.Log], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--max-pages 4 makes at most four page or sitemap requests (robots.txt aside), and the
    summary says the crawl stopped there with URLs still queued."""
    base, log = site
    await discover(f"{base}/", "-c", str(conf(tmp_path)), "--depth", "3", "--sitemap",
                   "--max-pages", "4")
    _, err = capsys.readouterr()
    assert len(log.pages()) == 4
    assert "stopped at --max-pages" in err


async def test_per_host_delay_holds_between_every_two_requests(
        site: tuple[str, shop.Log], tmp_path: Path) -> None:
    """With http.per_host_delay 0.2s, the shop sees every request (robots.txt included) at
    least the configured gap after the one before, though two could run at once."""
    base, log = site
    delay = 0.2
    await discover(f"{base}/c/kettles", "-c", str(conf(tmp_path, "200ms")), "--depth", "1")
    times = [t for t, _, _ in log.requests]
    assert len(times) >= 8
    gaps = [b - a for a, b in itertools.pairwise(times)]
    # 5 ms for the loopback's own jitter between the client's send and the server's log.
    assert min(gaps) >= delay - 0.005, gaps


async def test_add_appends_new_products_once_and_is_idempotent(
        site: tuple[str, shop.Log], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--add appends every product the config does not watch (one it watches under a
    tracking-parameter URL is recognised and skipped), the file loads with them, and a
    second run changes no byte."""
    base, _ = site
    cfg = conf(tmp_path, extra=(
        "# my products\nproducts:\n  - id: mine\n    name: My kettle\n    offers:\n"
        f"      - url: {base}/p/steel-kettle?utm_source=mail\n"))
    before = cfg.read_bytes()
    assert await discover(f"{base}/c/kettles", "-c", str(cfg), "--depth", "1", "--add") == 0
    _, err = capsys.readouterr()
    assert "added 5 products" in err
    after = cfg.read_bytes()
    assert after.startswith(before)
    settings = config.load(cfg)
    urls = [o.url for o in settings.offers()]
    assert settings.product_count == 6
    assert sorted(u.rsplit("/", 1)[-1] for u in urls[1:]) == sorted(
        ["glass-kettle", "retro-kettle", "travel-kettle", "smart-kettle", "kettle-red"])
    assert await discover(f"{base}/c/kettles", "-c", str(cfg), "--depth", "1", "--add") == 0
    _, err = capsys.readouterr()
    assert "nothing new" in err
    assert cfg.read_bytes() == after


async def test_a_sitemap_as_the_start_url_with_match(
        site: tuple[str, shop.Log], tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A sitemap index given as the URL is read with its gzipped child; --match keeps only
    product entries, so /about is never fetched, and the disallowed entry is not either."""
    base, log = site
    code = await discover(f"{base}/sitemap_index.xml", "-c", str(conf(tmp_path)), "--match",
                          r"/p/", "--json")
    out, _ = capsys.readouterr()
    assert code == 0
    assert sorted(slugs(found_json(out))) == ["glass-kettle", "orphan-grinder", "steel-kettle"]
    paths = log.paths()
    assert "/about" not in paths
    assert not [p for p in paths if p.startswith("/private/")]


async def test_unreachable_start_and_bad_options_are_one_line_errors(
        tmp_path: Path, free_port: int, capsys: pytest.CaptureFixture[str]) -> None:
    """A shop that is down exits 1 naming the outcome; a bad --match exits 2; neither
    prints a traceback."""
    cfg = conf(tmp_path)
    assert await discover(f"http://127.0.0.1:{free_port}/", "-c", str(cfg)) == 1
    _, err = capsys.readouterr()
    assert f"error: could not fetch http://127.0.0.1:{free_port}/: network_error" in err
    assert "Traceback" not in err
    assert await discover("http://127.0.0.1:1/", "-c", str(cfg), "--match", "(") == 2
    _, err = capsys.readouterr()
    assert err.startswith("error: --match '(': not a regular expression")
    assert await discover("ftp://example.org/", "-c", str(cfg)) == 2


async def test_ctrl_c_stops_the_crawl_and_prints_what_was_found(
        site: tuple[str, shop.Log], tmp_path: Path) -> None:
    """SIGINT to a running `pricewatch discover` ends it promptly with exit 130, the products
    found so far in the table and an "interrupted" summary, and no traceback."""
    base, log = site
    cfg = conf(tmp_path, "100ms")
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "pricewatch", "discover", f"{base}/c/kettles", "-c", str(cfg),
        "--depth", "9", "--per-pattern", "1000", "--max-pages", "1000",
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE, env=env)
    for _ in range(600):  # the child's start-up on a loaded machine; it ends at the first two
        if sum(p.startswith("/p/") for p in log.paths()) >= 2:
            break
        await asyncio.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    out, err = await asyncio.wait_for(proc.communicate(), 20)
    assert proc.returncode == 130, err
    assert b"/p/" in out
    assert b"extractor" in out
    assert b"interrupted" in err
    assert b"Traceback" not in err
