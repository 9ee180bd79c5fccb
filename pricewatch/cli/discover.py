"""`pricewatch discover URL`: crawl a shop's listing, search page, home page or sitemap and
list the product pages found; ``--add`` appends the new ones to the config.

The crawl is pricewatch/discover's, with the config's http settings (and the store's, when
the URL belongs to one). Progress goes to stderr; Ctrl-C stops the crawl and still prints
(and, with ``--add``, adds) what was found. Products go into the file through the same
text-level editor `pricewatch add` uses, validated by the real loader before the file is
replaced; URLs the config watches already are skipped, so running it again adds nothing.
"""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import sys
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from pricewatch.cli import configedit
from pricewatch.cli.add import slugify
from pricewatch.cli.text import stock, table
from pricewatch.config import HttpConfig, Settings, fetch_options_for, load, loads
from pricewatch.config.schema import GlobalConfig
from pricewatch.discover import Crawler, Found, Limits, Progress, Result
from pricewatch.discover.urls import canonical
from pricewatch.errors import ConfigError
from pricewatch.models import plain

EXIT_INTERRUPTED = 130
_TITLE_WIDTH = 60


@dataclass(frozen=True, slots=True)
class Request:
    """What the command line asked for."""

    url: str
    config: Path
    depth: int = 2
    max_pages: int = 1000
    per_pattern: int = 50
    same_site: bool = False
    sitemaps: bool = False
    match: str | None = None
    add: bool = False
    json: bool = False


class _Reporter:
    """The progress line on stderr: rewritten in place on a terminal, else one line every
    ``every`` seconds (logs stay short)."""

    def __init__(self, err: TextIO) -> None:
        self._err = err
        self._tty = err.isatty()
        self._every = 0.5 if self._tty else 5.0
        self._last = 0.0

    def __call__(self, progress: Progress) -> None:
        now = time.monotonic()
        if now - self._last < self._every:
            return
        self._last = now
        self._write(progress, now)

    def _write(self, p: Progress, now: float) -> None:
        line = line_of(p, now)
        if self._tty:
            self._err.write(f"\r\x1b[K{line}")
        else:
            self._err.write(line + "\n")
        self._err.flush()

    def done(self) -> None:
        if self._tty and self._last:
            self._err.write("\r\x1b[K")
            self._err.flush()


def line_of(p: Progress, now: float) -> str:
    return (f"discover: {p.fetched} pages fetched, {p.queued} queued, {p.products} products "
            f"found, {p.rate(now):.1f} pages/s")


def _settings(config: Path) -> Settings | None:
    if config.is_dir():
        raise ConfigError(f"is a directory; give the config file in it, e.g. "
                          f"{config / 'config.yaml'}", file=str(config))
    return load(config) if config.exists() else None


def _limits(request: Request) -> Limits:
    for name, value, low in (("--depth", request.depth, 0), ("--max-pages", request.max_pages, 1),
                             ("--per-pattern", request.per_pattern, 1)):
        if value < low:
            raise ConfigError(f"{name} must be at least {low}, got {value}")
    pattern = None
    if request.match is not None:
        try:
            pattern = re.compile(request.match)
        except re.error as exc:
            raise ConfigError(f"--match {request.match!r}: not a regular expression: {exc}"
                              ) from exc
    return Limits(depth=request.depth, max_pages=request.max_pages,
                  per_pattern=request.per_pattern, same_site=request.same_site,
                  sitemaps=request.sitemaps, match=pattern)


async def crawl(request: Request, model: GlobalConfig, err: TextIO) -> Result:
    """The crawl, with Ctrl-C (SIGINT) stopping it cleanly instead of raising."""
    from pricewatch.fetch import Fetcher

    if canonical(request.url) is None:
        raise ConfigError(f"{request.url!r} is not an http(s) URL")
    limits = _limits(request)
    options = fetch_options_for(model, request.url)
    reporter = _Reporter(err)
    loop = asyncio.get_running_loop()
    async with Fetcher(model.http) as fetcher:
        crawler = Crawler(fetcher, options, limits, on_progress=reporter)
        # Signals reach only the main thread (an embedder may run the command in another).
        handles = threading.current_thread() is threading.main_thread()
        if handles:
            loop.add_signal_handler(signal.SIGINT, crawler.stop)
        try:
            result = await crawler.run(request.url)
        finally:
            if handles:
                loop.remove_signal_handler(signal.SIGINT)
    reporter.done()
    return result


def summary(result: Result) -> str:
    p = result.progress
    parts = [line_of(p, time.monotonic())]
    failed = sum(p.failed.values())
    if failed:
        parts.append(f"{failed} failed (" + ", ".join(
            f"{k} {n}" for k, n in p.failed.most_common()) + ")")
    if p.disallowed:
        parts.append(f"{p.disallowed} disallowed by robots.txt")
    if p.trapped:
        parts.append(f"{p.trapped} URLs dropped by the per-pattern cap (a trap?)")
    if p.duplicates:
        parts.append(f"{p.duplicates} duplicates by rel=canonical")
    if result.budget_hit:
        parts.append(f"stopped at --max-pages with {p.queued} URLs still queued")
    if result.interrupted:
        parts.append("interrupted: showing what was found so far")
    return "; ".join(parts)


def rows_table(found: Iterable[Found]) -> str:
    rows = [(f.url, _short(f.title), plain(f.price), f.currency, stock(f.in_stock), f.extractor)
            for f in found]
    return table(["url", "title", "price", "currency", "stock", "extractor"], rows)


def as_json(found: Found) -> str:
    return json.dumps({
        "url": found.url, "title": found.title, "price": str(plain(found.price)),
        "currency": found.currency, "in_stock": found.in_stock, "extractor": found.extractor,
        "depth": found.depth, "via": found.via,
    }, ensure_ascii=False)


def _short(title: str | None) -> str | None:
    if title is None or len(title) <= _TITLE_WIDTH:
        return title
    return title[:_TITLE_WIDTH - 1] + "…"


async def run(request: Request, out: TextIO | None = None, err: TextIO | None = None) -> int:
    """Crawl, print, maybe add; 0 when products were found, 1 when none (or the start page
    failed), 130 when Ctrl-C cut the crawl short."""
    out = out or sys.stdout
    err = err or sys.stderr
    settings = _settings(request.config)
    model = settings.model if settings is not None else GlobalConfig(http=HttpConfig())
    result = await crawl(request, model, err)
    found = sorted(result.found, key=lambda f: f.url)
    if request.json:
        for item in found:
            print(as_json(item), file=out)
    elif found:
        print(rows_table(found), file=out)
    print(summary(result), file=err)
    code = EXIT_INTERRUPTED if result.interrupted else 0
    if not found:
        why = f"could not fetch {request.url}: {result.start_error}" if result.start_error \
            else f"no product pages found from {request.url}"
        print(f"error: {why}" if result.start_error else why, file=err)
        return code or 1
    if request.add:
        print(add_found(request.config, settings, found), file=err)
    return code


def add_found(config: Path, settings: Settings | None, found: list[Found]) -> str:
    """Append the products the config does not watch yet; the line to tell the user."""
    watched = set()
    ids = set()
    if settings is not None:
        for offer in settings.offers():
            watched.add(canonical(offer.url) or offer.url)
            ids.add(offer.product_id)
    new = [f for f in found if f.url not in watched]
    if not new:
        return f"--add: nothing new; all {len(found)} products are in {config} already"
    file = str(config)
    text = config.read_bytes().decode("utf-8") if config.exists() else ""
    newline = "\r\n" if "\r\n" in text else "\n"
    layout = configedit.layout_of(text, file=file)
    items = []
    for f in new:
        name = f.title or _url_slug(f.url) or "product"
        product_id = _unique(slugify(name) or _url_slug(f.url) or "product", ids)
        items.append(configedit.product_item([("id", product_id), ("name", name)],
                                             [("url", f.url)], layout, newline))
    new_text, line = configedit.insert_item(text, layout, "".join(items), newline)
    before = settings.product_count if settings is not None else 0
    try:
        after = loads(new_text, file=file, environ=os.environ, source=config.resolve())
    except ConfigError as exc:
        raise ConfigError(f"the config with the new products would not load, so it was not "
                          f"written: {exc}", file=file) from exc
    if after.product_count != before + len(new):
        raise ConfigError("could not place the new products in the file; nothing written",
                          file=file)
    configedit.write_atomically(config, new_text.encode("utf-8"))
    skipped = len(found) - len(new)
    return (f"--add: added {len(new)} products to {config} from line {line}"
            + (f"; {skipped} already there" if skipped else "")
            + "; a running daemon picks them up within seconds")


def _url_slug(url: str) -> str:
    from urllib.parse import urlsplit

    parts = [p for p in urlsplit(url).path.split("/") if p]
    return slugify(parts[-1].rsplit(".", 1)[0]) if parts else ""


def _unique(base: str, taken: set[str]) -> str:
    """``base``, or ``base-2``, ``base-3`` ... whichever is free; the result is taken."""
    candidate, n = base[:76], 1
    while candidate in taken:
        n += 1
        candidate = f"{base[:76]}-{n}"
    taken.add(candidate)
    return candidate
