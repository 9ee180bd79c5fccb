"""One page in the browser: load it, run the offer's steps, wait until the price can be there,
and hand back the rendered DOM as HTML, classified exactly like an HTTP response (status,
content type, size cap, bot wall). The whole of it is bounded by the offer's total timeout."""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
from pathlib import Path
from urllib.parse import urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page
from playwright.async_api import TimeoutError as PlaywrightTimeout

from pricewatch.errors import BrowserUnavailable
from pricewatch.fetch.browser.pool import Pool, bounded
from pricewatch.fetch.classify import looks_blocked, outcome_for_status
from pricewatch.fetch.request import HTML_TYPES, Attempt
from pricewatch.fetch.retry import is_temporary
from pricewatch.models import BrowserPlan, FetchOptions, FetchResult, Outcome, Step

log = logging.getLogger(__name__)

SCREENSHOT_WITHIN = 3.0  # seconds a failure's screenshot may add to the check
_DIGIT = re.compile(r"\d")

# The rendered DOM with every open shadow root's content written out in place (inside a
# <pricewatch-shadow-root> element at the start of its host), so the extractors see a price a
# web component draws. Copied into an inert document: no custom element runs again.
FLATTEN = """() => {
  const hasShadow = [...document.querySelectorAll('*')].some(e => e.shadowRoot);
  const doctype = '<!DOCTYPE html>';
  if (!hasShadow) return doctype + document.documentElement.outerHTML;
  const inert = document.implementation.createHTMLDocument('');
  const copy = (src) => {
    const dst = inert.importNode(src, false);
    if (src.nodeType === 1 && src.shadowRoot) {
      const holder = inert.createElement('pricewatch-shadow-root');
      for (const child of src.shadowRoot.childNodes) holder.appendChild(copy(child));
      dst.appendChild(holder);
    }
    if (src.nodeName !== 'TEMPLATE') {
      for (const child of src.childNodes) dst.appendChild(copy(child));
    }
    return dst;
  };
  return doctype + copy(document.documentElement).outerHTML;
}"""


class _Failed(Exception):
    """A classified failure found part-way (status, content type, size)."""

    def __init__(self, attempt: Attempt) -> None:
        self.attempt = attempt
        super().__init__(attempt.result.error)


async def render(pool: Pool, url: str, options: FetchOptions, plan: BrowserPlan, *,
                 max_bytes: int, screenshots: Path | None) -> Attempt:
    """Load ``url`` as ``plan`` says; never raises for anything the page or browser does.
    Getting a page (maybe starting the browser) and loading it share the total timeout; a
    failure's screenshot and closing the page add at most a few bounded seconds."""
    total = options.timeouts.total
    deadline = asyncio.get_running_loop().time() + total
    key = (plan.context, options.user_agent, options.proxy)
    try:
        async with asyncio.timeout_at(deadline):
            session, page = await pool.open(key)
    except TimeoutError:
        return _timed_out(url, total, "for a browser page")
    except PlaywrightError as exc:
        return _classify(url, exc, died=pool.died())
    except BrowserUnavailable as exc:
        return Attempt(FetchResult(Outcome.ERROR, url, error=str(exc)))
    stage = ["for the page to load"]  # what the page was waiting for, if it times out
    try:
        try:
            async with asyncio.timeout_at(deadline):
                attempt = await _load(page, url, options, plan, max_bytes=max_bytes,
                                      stage=stage)
        except _Failed as failed:
            attempt = failed.attempt
        except (TimeoutError, PlaywrightTimeout):
            attempt = _timed_out(url, total, stage[0])
        except PlaywrightError as exc:
            attempt = _classify(url, exc, died=pool.died())
        if session.alive:
            await _shoot(page, url, plan, screenshots,
                         failed=attempt.result.outcome is not Outcome.OK)
        return attempt
    finally:
        await pool.done(session, page)


def _timed_out(url: str, total: float, waiting: str) -> Attempt:
    return Attempt(FetchResult(Outcome.TIMEOUT, url, error=(
        f"the page did not settle within {total:g}s (waiting {waiting})")))


async def _load(page: Page, url: str, options: FetchOptions, plan: BrowserPlan, *,
                max_bytes: int, stage: list[str]) -> Attempt:
    # Playwright's own limits off: the caller's deadline bounds every wait.
    page.set_default_timeout(0)
    page.set_default_navigation_timeout(0)
    if options.headers:
        await page.set_extra_http_headers(dict(options.headers))
    if options.cookies:
        await page.context.add_cookies([
            {"name": k, "value": v, "url": url} for k, v in options.cookies])
    response = await page.goto(url, wait_until="domcontentloaded")
    if response is None:
        raise _Failed(Attempt(FetchResult(Outcome.ERROR, url, error="no response")))
    status = response.status
    final = page.url
    failed = outcome_for_status(status)
    if failed is not None:
        raise _Failed(Attempt(
            FetchResult(failed, final, status=status,
                        error=f"HTTP {status} {response.status_text or ''}".strip()),
            retryable=is_temporary(failed, status)))
    headers = response.headers
    ctype = headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if ctype not in HTML_TYPES:
        raise _Failed(Attempt(FetchResult(Outcome.NOT_HTML, final, status=status,
                                          content_type=ctype, error=f"content type {ctype}")))
    declared = headers.get("content-length", "")
    if declared.isdigit() and int(declared) > max_bytes:
        raise _Failed(Attempt(FetchResult(Outcome.TOO_LARGE, final, status=status,
                                          error=f"Content-Length {declared} > {max_bytes}")))
    for number, step in enumerate(plan.steps, 1):
        stage[0] = f"in step {number}, {step.action} {step.selector or step.seconds!r}"
        await _step(page, step, number)
    stage[0] = (f"for {plan.wait_for!r}" if plan.wait_for
                else "for the network to go idle")
    await _settle(page, plan)
    html: str = await page.evaluate(FLATTEN)
    size = len(html.encode("utf-8", errors="replace"))
    if size > max_bytes:
        return Attempt(FetchResult(Outcome.TOO_LARGE, page.url, status=status,
                                   error=f"rendered page of {size} bytes > {max_bytes}"))
    marker = looks_blocked(html)
    if marker is not None:
        return Attempt(FetchResult(Outcome.BLOCKED, page.url, status=status,
                                   error=f"bot wall: {marker!r}"))
    return Attempt(FetchResult(Outcome.OK, page.url, status=status, text=html,
                               content_type=ctype))


async def _step(page: Page, step: Step, number: int) -> None:
    try:
        if step.action == "pause":
            await asyncio.sleep(step.seconds)
        elif step.action == "click":
            await page.click(str(step.selector))
        elif step.action == "fill":
            await page.fill(str(step.selector), step.value or "")
        elif step.action == "select":
            await page.select_option(str(step.selector), step.value or "")
        else:
            await page.wait_for_selector(str(step.selector), state="attached")
    except PlaywrightTimeout:
        raise
    except PlaywrightError as exc:
        if not page.context.browser or not page.context.browser.is_connected():
            raise
        raise _Failed(Attempt(FetchResult(Outcome.ERROR, page.url, error=(
            f"step {number} ({step.action} {step.selector or step.seconds!r}) failed: "
            f"{_first_line(exc)}")))) from exc


async def _settle(page: Page, plan: BrowserPlan) -> None:
    """Until the price can be read: the wait_for element, or the offer's own element with a
    digit in it (an element a script fills later is there, empty, from the start), else until
    the network is idle. The caller's timeout bounds it."""
    if plan.wait_for is None:
        await page.wait_for_load_state("networkidle", timeout=0)
        return
    target = page.locator(plan.wait_for)
    if plan.wait_text:
        target = target.filter(has_text=_DIGIT)
    await target.first.wait_for(state="attached", timeout=0)


async def _shoot(page: Page, url: str, plan: BrowserPlan, folder: Path | None, *,
                 failed: bool) -> None:
    """The page as it looked: always to ``plan.screenshot``; on failure, into ``folder``
    (one file per page, the newest failure's)."""
    targets = [Path(plan.screenshot)] if plan.screenshot else []
    if failed and folder is not None:
        digest = hashlib.sha1(url.encode(), usedforsecurity=False).hexdigest()[:12]
        host = (urlsplit(url).hostname or "page").replace(":", "_")
        targets.append(folder / plan.context / f"{host}-{digest}.png")
    for target in targets:
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            log.warning("cannot save a screenshot to %s: %s", target, exc)
            continue
        shot = page.screenshot(path=str(target), timeout=SCREENSHOT_WITHIN * 1000)
        if await bounded(shot, SCREENSHOT_WITHIN + 1) is None:
            log.warning("no screenshot of %s saved to %s", url, target)


def _classify(url: str, exc: PlaywrightError, *, died: bool) -> Attempt:
    message = _first_line(exc)
    if died or "has been closed" in message or "crashed" in message.lower():
        return Attempt(FetchResult(Outcome.ERROR, url, error=(
            f"the browser crashed or was closed ({message}); it is restarted for the next "
            "page")))
    if "net::ERR_" in message:
        code = message[message.index("net::ERR_"):].split()[0]
        return Attempt(FetchResult(Outcome.NETWORK_ERROR, url, error=f"cannot load: {code}"),
                       retryable=True)
    return Attempt(FetchResult(Outcome.ERROR, url, error=f"browser: {message}"))


def _first_line(exc: BaseException) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0][:300] if lines else type(exc).__name__
