"""Browser fetcher tests: Debian's chromium (never a downloaded browser), a local JavaScript
shop, and offers built from YAML the way a user writes them."""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

from pricewatch.config import Settings, loads
from tests.integration.browser.shop import Counts, start

pytest.importorskip("playwright.async_api", reason="playwright is not installed")


def need_chromium() -> None:
    if shutil.which("chromium"):
        return
    reason = "Debian's chromium is not installed here (apt-get install chromium; CI installs it)"
    if os.environ.get("PRICEWATCH_REQUIRE_BROWSER"):
        pytest.fail(reason)
    pytest.skip(reason)


class Shop:
    def __init__(self, base: str, counts: Counts) -> None:
        self.base = base
        self.counts = counts


@pytest_asyncio.fixture(loop_scope="module", scope="module")
async def shop() -> AsyncIterator[Shop]:
    """One shop per module; tests read ``counts`` after resetting it."""
    counts = Counts()
    runner, base = await start(counts)
    yield Shop(base, counts)
    await runner.cleanup()


def settings(offers: str, *, top: str = "", per_host: int = 2) -> Settings:
    """A config whose only product has ``offers`` (YAML list items, already indented)."""
    return loads(f"""
http:
  per_host_delay: 0s
  per_host_concurrency: {per_host}
  retries: {{attempts: 1}}
{top}
products:
  - id: p
    name: P
    offers:
{offers}
""")


def offer_lines(urls: list[str], *, fetcher: str = "browser", extra: str = "") -> str:
    """One offer per URL, each at a store of its own (``s0``, ``s1`` ...)."""
    return "".join(f"      - {{url: '{u}', store: s{i}, fetcher: {fetcher}{extra}}}\n"
                   for i, u in enumerate(urls))
