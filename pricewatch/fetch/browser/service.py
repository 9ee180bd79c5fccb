"""What the Fetcher holds for browser pages: the page slots, and the pool of browsers built
on first use (so a process with no ``fetcher: browser`` offer never imports Playwright)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING

from pricewatch.config.browser import BrowserConfig
from pricewatch.errors import BrowserUnavailable
from pricewatch.fetch.browser.locate import preflight
from pricewatch.fetch.request import Attempt
from pricewatch.models import BrowserPlan, FetchOptions, FetchResult, Outcome

if TYPE_CHECKING:
    from pricewatch.fetch.browser.pool import Pool

class BrowserService:
    """Browser pages for the Fetcher. ``slots`` bounds the pages open at once (it takes the
    place of the global HTTP slot for browser checks, so HTTP checks never wait for pages)."""

    def __init__(self, config: BrowserConfig, *, screenshots: Path | None = None) -> None:
        self.slots = asyncio.Semaphore(config.pages)
        self._config = config
        self._screenshots = screenshots
        self._pool: Pool | None = None

    async def render(self, url: str, options: FetchOptions, plan: BrowserPlan, *,
                     max_bytes: int) -> Attempt:
        """One page, called holding a host slot and one of ``slots``; never raises for what
        the page or the browser does."""
        if self._pool is None:
            try:
                preflight(self._config)
            except BrowserUnavailable as exc:
                return Attempt(FetchResult(Outcome.ERROR, url, error=str(exc)))
            from pricewatch.fetch.browser.pool import Pool

            self._pool = Pool(self._config)
        from pricewatch.fetch.browser.render import render

        return await render(self._pool, url, options, plan, max_bytes=max_bytes,
                            screenshots=self._screenshots)

    async def reconfigure(self, config: BrowserConfig, screenshots: Path | None) -> None:
        """A reload's settings: the next browser started uses them (the running one is
        retired when they differ). ``pages`` changes at the next restart of pricewatch."""
        self._screenshots = screenshots
        if config != self._config:
            self._config = config
            if self._pool is not None:
                self._pool.config = config
                await self._pool.release()

    async def release(self) -> None:
        """No offer needs the browser any more (a reload): close it once its open pages are
        done; a later browser offer starts it again."""
        if self._pool is not None:
            await self._pool.release()

    async def close(self) -> None:
        """Close the browser and the Playwright driver (bounded); a later page starts them
        again."""
        pool, self._pool = self._pool, None
        if pool is not None:
            await pool.close()
