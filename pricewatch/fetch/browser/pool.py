"""One Chromium at a time, driven by Playwright: started on first use, a context per store,
replaced after ``restart_after`` pages, past ``max_memory``, or when it died.

A replaced browser finishes the pages it has open and then closes; the next page starts the
new one. Every call that talks to the browser is bounded: a browser that hangs or vanishes
fails the pages on it, and the next page gets a fresh browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import uuid
from collections.abc import Awaitable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from playwright.async_api import Browser, BrowserContext, Page, Playwright, async_playwright

from pricewatch.config.browser import BrowserConfig
from pricewatch.errors import BrowserUnavailable
from pricewatch.fetch.browser import procs
from pricewatch.fetch.browser.locate import find_executable

log = logging.getLogger(__name__)

CLOSE_WITHIN = 5.0  # seconds for closing a page, a context or a browser that may be hung
_T = TypeVar("_T")

# (store, user agent, proxy): one context each; a store's cookies live in its own.
ContextKey = tuple[str, str, str | None]


async def bounded(step: Awaitable[_T], seconds: float = CLOSE_WITHIN) -> _T | None:
    """``step``, or None when it fails or takes longer (closing something already dead)."""
    try:
        return await asyncio.wait_for(step, seconds)
    except Exception:
        return None


@dataclass(eq=False)  # identity: sessions are kept in sets
class _Session:
    """One launched (or connected) browser and the contexts opened in it."""

    browser: Browser
    pid: int | None  # the browser's main process, for the memory cap (None: remote)
    contexts: dict[ContextKey, BrowserContext] = field(default_factory=dict)
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    open_pages: int = 0
    served: int = 0
    retired: bool = False

    @property
    def alive(self) -> bool:
        return self.browser.is_connected()

    async def context(self, key: ContextKey, config: BrowserConfig) -> BrowserContext:
        async with self.lock:
            found = self.contexts.get(key)
            if found is None:
                store, agent, proxy = key
                found = await self.browser.new_context(
                    user_agent=agent, proxy={"server": proxy} if proxy else None,
                    service_workers="block")  # a worker's fetches would bypass the route
                blocked = frozenset(config.block)
                if blocked:
                    await found.route("**/*", _blocker(blocked))
                self.contexts[key] = found
                log.debug("browser context for store %s opened", store)
            return found

    async def close(self) -> None:
        for context in self.contexts.values():
            await bounded(context.close())
        self.contexts.clear()
        await bounded(self.browser.close())


def _blocker(blocked: frozenset[str]) -> Any:
    async def route(route: Any) -> None:
        try:
            if route.request.resource_type in blocked:
                await route.abort("blockedbyclient")
            else:
                await route.continue_()
        except Exception:  # the page closed meanwhile: nothing to route any more
            return

    return route


class Pool:
    """Hands out pages; ``config`` may be replaced (a reload): the next browser uses it."""

    def __init__(self, config: BrowserConfig) -> None:
        self.config = config
        self._playwright: Playwright | None = None
        self._current: _Session | None = None
        self._draining: set[_Session] = set()
        self._lock = asyncio.Lock()
        self._launching: asyncio.Task[_Session] | None = None
        self.launches = 0

    async def open(self, key: ContextKey) -> tuple[_Session, Page]:
        """A new page in the store's context of the current browser; give it back with
        ``done`` (also when this is cancelled half-way, nothing stays counted)."""
        session = await self._session()
        session.open_pages += 1
        try:
            context = await session.context(key, self.config)
            return session, await context.new_page()
        except BaseException:
            session.open_pages -= 1
            await self._after_page(session)
            raise

    async def done(self, session: _Session, page: Page) -> None:
        await bounded(page.close())
        session.open_pages -= 1
        session.served += 1
        await self._after_page(session)

    def died(self) -> bool:
        """Whether the browser the last page ran in is gone (a crash, a kill)."""
        return self._current is not None and not self._current.alive

    async def release(self) -> None:
        """Let the current browser finish its open pages, then close it and the driver; the
        next page starts a new one (a reload that changed or dropped the browser)."""
        async with self._lock:
            current, self._current = self._current, None
            if current is not None:
                await self._drain(current)

    async def close(self) -> None:
        """Close every browser and the Playwright driver; bounded."""
        async with self._lock:
            sessions = [*self._draining, *([self._current] if self._current else [])]
            launching, self._launching = self._launching, None
            if launching is not None:
                late = await bounded(asyncio.shield(launching), self.config.launch_timeout)
                if late is not None:
                    sessions.append(late)
            self._current = None
            self._draining.clear()
            for session in sessions:
                await session.close()
            await self._stop_driver()

    async def _session(self) -> _Session:
        async with self._lock:
            current = self._current
            if current is not None and current.alive and not current.retired:
                return current
            if current is not None:
                if not current.alive:
                    log.warning("the browser died; starting a new one")
                self._current = None
                await self._drain(current)
            if self._launching is None:
                self._launching = asyncio.create_task(self._launch(), name="browser-launch")
            launching = self._launching
            try:
                # Shielded: a check that gives up waiting must not leave a half-launched
                # browser behind; the launch finishes (or times out) for the next one.
                self._current = await asyncio.shield(launching)
            finally:
                if launching.done():
                    self._launching = None
            return self._current

    async def _after_page(self, session: _Session) -> None:
        if not session.retired and session.alive:
            reason = None
            if session.served >= self.config.restart_after:
                reason = f"after {session.served} pages"
            elif session.pid is not None:
                used = procs.memory(session.pid)
                if used > self.config.max_memory:
                    reason = f"its memory ({used // 2**20} MiB) passed max_memory"
            if reason is not None:
                log.info("restarting the browser %s", reason)
                session.retired = True
        if session.retired or not session.alive:
            async with self._lock:
                if session is self._current:
                    self._current = None
                await self._drain(session)

    async def _drain(self, session: _Session) -> None:
        """Close ``session`` once its last page is done (now, if none is open or it died)."""
        session.retired = True
        if session.open_pages and session.alive:
            self._draining.add(session)
            return
        self._draining.discard(session)
        await session.close()
        if self._current is None and not self._draining:
            await self._stop_driver()

    async def _launch(self) -> _Session:
        limit = self.config.launch_timeout
        try:
            async with asyncio.timeout(limit):
                if self._playwright is None:
                    self._playwright = await async_playwright().start()
                chromium = self._playwright.chromium
                endpoint = self.config.endpoint
                if endpoint is not None:
                    if self.config.protocol == "cdp":
                        browser = await chromium.connect_over_cdp(endpoint,
                                                                  timeout=limit * 1000)
                    else:
                        browser = await chromium.connect(endpoint, timeout=limit * 1000)
                    session = _Session(browser, None)
                else:
                    executable = find_executable(self.config)
                    # A switch Chromium ignores, so its main process can be found in /proc.
                    marker = f"--pricewatch-session={uuid.uuid4().hex}"
                    browser = await chromium.launch(
                        executable_path=executable, headless=True, timeout=limit * 1000,
                        args=[marker, "--disable-gpu", "--disable-dev-shm-usage"])
                    session = _Session(browser, procs.find(marker, under=os.getpid()))
        except Exception as exc:
            await self._stop_driver()  # a driver that failed once is not trusted again
            if isinstance(exc, BrowserUnavailable):
                raise
            where = (f"endpoint {self.config.endpoint}" if self.config.endpoint
                     else f"executable_path {self.config.executable_path or 'from PATH'}")
            reason = "timed out" if isinstance(exc, TimeoutError) else _first_line(exc)
            raise BrowserUnavailable(f"cannot start the browser ({where}): {reason}",
                                     field="browser") from exc
        self.launches += 1
        log.info("browser started (%s, launch %d)",
                 self.config.endpoint or self.config.executable_path or "chromium from PATH",
                 self.launches)
        return session

    async def _stop_driver(self) -> None:
        driver, self._playwright = self._playwright, None
        if driver is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(driver.stop(), CLOSE_WITHIN * 2)


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
