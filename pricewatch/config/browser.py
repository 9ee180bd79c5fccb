"""The browser fetcher's settings: the ``browser:`` section, and the per-store / per-offer
``fetcher``, ``wait_for`` and ``steps`` keys (mixed into StoreConfig and OfferConfig).

Kept in one module so the schema's other sections can grow without touching these lines.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from pricewatch.config.types import CssSelector, Duration, Model, PositiveDuration, Size
from pricewatch.models import BrowserPlan, Step

FetcherKind = Literal["http", "browser"]
# Playwright's resource types (Request.resource_type); what `block` may list.
ResourceType = Literal["image", "font", "media", "stylesheet", "script", "xhr", "fetch",
                       "websocket", "manifest", "texttrack", "eventsource", "other"]
MAX_STEPS = 10


class BrowserConfig(Model):
    """One headless Chromium for every offer with ``fetcher: browser``; started when the first
    such offer is checked, closed at shutdown or when a reload leaves no such offer."""

    pages: int = Field(4, ge=1, le=64)  # pages rendered at once, across all stores
    restart_after: int = Field(200, ge=1)  # pages; a long-lived Chromium only grows
    max_memory: Size = Field(1024**3, ge=64 * 1024**2)  # RSS of the browser's processes
    block: list[ResourceType] = ["image", "font", "media"]
    executable_path: str | None = None  # default: chromium, chromium-browser, google-chrome
    # A browser elsewhere (the compose `browser` service): Playwright's run-server (ws://)
    # or Chrome's DevTools protocol (protocol: cdp). Replaces executable_path.
    endpoint: str | None = None
    protocol: Literal["playwright", "cdp"] = "playwright"
    launch_timeout: PositiveDuration = 30.0
    # A folder for the newest failed render's screenshot of each page (relative paths are
    # from the config file's folder); none by default.
    screenshots: str | None = None

    @model_validator(mode="after")
    def _one_browser(self) -> BrowserConfig:
        if self.endpoint is not None and self.executable_path is not None:
            raise ValueError("give executable_path (a local Chromium) or endpoint (a remote "
                             "one), not both")
        if self.endpoint is not None and not self.endpoint.startswith(
                ("ws://", "wss://", "http://", "https://")):
            raise ValueError("endpoint must be a ws:// (Playwright server) or http:// (CDP) "
                             "URL")
        return self


class StepConfig(Model):
    """One action before the price is read: ``click``, ``fill`` or ``select`` (with
    ``value``) an element, ``wait_for`` an element, or ``pause`` for a duration."""

    click: CssSelector | None = None
    fill: CssSelector | None = None
    select: CssSelector | None = None
    wait_for: CssSelector | None = None
    pause: Duration | None = Field(None, ge=0, le=30)
    value: str | None = None

    @model_validator(mode="after")
    def _one_action(self) -> StepConfig:
        actions = [n for n in ("click", "fill", "select", "wait_for", "pause")
                   if getattr(self, n) is not None]
        if len(actions) != 1:
            raise ValueError("a step is exactly one of click, fill, select, wait_for, pause "
                             f"(got {actions or 'none'})")
        if (self.fill is not None or self.select is not None) != (self.value is not None):
            raise ValueError("fill and select need a value; other steps take none")
        return self


class StoreBrowserKeys(Model):
    """The store's key: which fetcher its offers use unless an offer says otherwise."""

    fetcher: FetcherKind | None = None


class OfferBrowserKeys(Model):
    """The offer's keys: its fetcher, and (browser only) what to wait for and do first."""

    fetcher: FetcherKind | None = None
    wait_for: CssSelector | None = None
    steps: list[StepConfig] = Field([], max_length=MAX_STEPS)


def fetcher_of(store: StoreBrowserKeys, offer: OfferBrowserKeys) -> FetcherKind:
    """The offer's own ``fetcher``, else its store's, else plain HTTP."""
    return offer.fetcher or store.fetcher or "http"


def browser_plan(store_name: str, store: StoreBrowserKeys, offer: OfferBrowserKeys, *,
                 selector: str | None, xpath: str | None,
                 attribute: str | None) -> BrowserPlan | None:
    """How the browser loads the offer (None: it is fetched over plain HTTP). Without a
    ``wait_for`` it waits for the offer's own selector or XPath, when it has one: until the
    element shows a digit (a script fills it after loading), or, when the price is read from
    an attribute, until it exists."""
    if fetcher_of(store, offer) != "browser":
        return None
    steps = tuple(_step(s) for s in offer.steps)
    if offer.wait_for is not None:
        return BrowserPlan(context=store_name, wait_for=offer.wait_for, steps=steps)
    own = selector or (f"xpath={xpath}" if xpath else None)
    return BrowserPlan(context=store_name, wait_for=own,
                       wait_text=own is not None and attribute is None, steps=steps)


def _step(step: StepConfig) -> Step:
    if step.pause is not None:
        return Step("pause", seconds=step.pause)
    for action in ("click", "fill", "select", "wait_for"):
        selector: str | None = getattr(step, action)
        if selector is not None:
            return Step(action, selector=selector, value=step.value)
    raise AssertionError("StepConfig validates exactly one action")


def browser_problems(store: StoreBrowserKeys, offer: OfferBrowserKeys,
                     json_path: str | None) -> list[tuple[str, str]]:
    """(key, message) for browser keys that cannot apply to this offer."""
    problems = []
    if fetcher_of(store, offer) == "browser":
        if json_path is not None:
            problems.append(("json_path", "json_path reads a JSON document; fetcher: browser "
                             "renders HTML pages (use fetcher: http for this offer)"))
    else:
        for key in ("wait_for", "steps"):
            if getattr(offer, key):
                problems.append((key, f"{key} needs fetcher: browser (on the offer or its "
                                 "store)"))
    return problems
