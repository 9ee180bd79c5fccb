"""`pricewatch check`: what the extractors find on one page, and why the winner won.

The page is a URL (fetched with the service's own fetcher, so limits, timeouts, size caps and
classification are the ones checks get; with ``--browser``, rendered by the browser fetcher,
``--screenshot FILE`` saving what it showed) or a saved HTML file, gzipped or not. The text
rendering is for people; ``--json`` prints one object whose keys are a stable contract:
price (plain decimal string), currency, in_stock, title, image, extractor, outcome, detail
("ambiguous" when several amounts compete), evidence, and candidates (each with price,
currency, extractor, selector, evidence: on an ambiguous page the close rivals, else every
candidate), where ``selector`` pins that element and can be pasted into the offer's config.
"""

from __future__ import annotations

import gzip
import json
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from pricewatch.cli.text import money, stock, table
from pricewatch.config import HttpConfig
from pricewatch.extract import Candidate, Report, explain
from pricewatch.extract.pin import unique_selector
from pricewatch.extract.rules import compile_css, compile_regex, compile_xpath
from pricewatch.fetch.decode import decode
from pricewatch.models import (
    BrowserPlan,
    ExtractSpec,
    FetchOptions,
    FetchResult,
    Outcome,
    Timeouts,
    plain,
)

_GZIP_MAGIC = b"\x1f\x8b"
_MAX_LISTED = 20


@dataclass(frozen=True, slots=True)
class Page:
    """The page to explain, or why there is none."""

    url: str
    text: str = ""
    outcome: Outcome = Outcome.OK
    error: str | None = None
    source: str = ""  # "GET <url> -> 200 in 120 ms" or "file <path>"


def is_url(target: str) -> bool:
    return target.lower().startswith(("http://", "https://"))


def build_spec(
    *,
    selector: str | None = None,
    xpath: str | None = None,
    attribute: str | None = None,
    regex: str | None = None,
    currency: str | None = None,
    locale: str | None = None,
) -> ExtractSpec:
    """The extraction spec for the command's options; a bad selector, XPath or regex raises
    ExtractionError before any request is made."""
    if selector:
        compile_css(selector)
    if xpath:
        compile_xpath(xpath)
    if regex:
        compile_regex(regex)
    return ExtractSpec(
        selector=selector or None,
        xpath=xpath or None,
        attribute=attribute or None,
        regex=regex or None,
        currency=currency.upper() if currency else None,
        locale=locale or None,
    )


def read_file(path: Path, url: str | None) -> Page:
    """A saved page; gzip is recognised by its magic bytes, the charset as a browser would."""
    body = path.read_bytes()
    if body.startswith(_GZIP_MAGIC):
        body = gzip.decompress(body)
    text, charset = decode(body, None)
    return Page(url or "", text, source=f"file {path} ({len(body)} bytes, {charset})")


def browser_plan(spec: ExtractSpec, screenshot: Path | None) -> BrowserPlan:
    """`check --browser`: wait as an offer with this rule would, save ``screenshot``."""
    own = spec.selector or (f"xpath={spec.xpath}" if spec.xpath else None)
    return BrowserPlan(context="check", wait_for=own,
                       wait_text=own is not None and spec.attribute is None,
                       screenshot=None if screenshot is None else str(screenshot))


async def fetch_page(url: str, http: HttpConfig | None = None, *,
                     browser: BrowserPlan | None = None) -> Page:
    """The page at ``url``, fetched politely (rendered by the browser with ``browser``); a
    failed fetch is a Page with its outcome."""
    from pricewatch.fetch import Fetcher

    http = http or HttpConfig()
    t = http.timeouts
    options = FetchOptions(
        user_agent=http.user_agent,
        timeouts=Timeouts(connect=t.connect, read=t.read, total=t.total),
        headers=tuple(http.headers.items()),
        proxy=http.proxy,
        per_host_concurrency=http.per_host_concurrency,
        per_host_delay=0.0,  # one request: nothing to space out
        browser=browser,
    )
    async with Fetcher(http) as fetcher:
        result: FetchResult = await fetcher.fetch(url, options)
    status = f" -> {result.status}" if result.status is not None else ""
    how = "browser GET" if browser is not None else "GET"
    source = f"{how} {url}{status} in {result.elapsed_ms} ms"
    if result.url and result.url != url:
        source += f" (final URL {result.url})"
    if result.outcome is not Outcome.OK:
        return Page(result.url or url, "", result.outcome, result.error, source)
    return Page(result.url or url, result.text, source=source)


def _price_text(value: Decimal | None) -> str | None:
    return None if value is None else format(plain(value), "f")


def selector_for(c: Candidate) -> str | None:
    """A selector that matches the candidate's element and nothing else, when it has one."""
    el = c.element
    if el is None:
        return None
    root = el
    while root.parent is not None and root.parent.tag != "-document":
        root = root.parent
    return unique_selector(el, root)


def listed(report: Report) -> tuple[Candidate, ...]:
    """The candidates to show the user: the close rivals of an ambiguous page, else all."""
    return report.rivals or report.candidates[:_MAX_LISTED]


def as_json(page: Page, report: Report | None) -> dict[str, Any]:
    """The stable JSON contract of ``pricewatch check --json``."""
    if report is None:
        return {"price": None, "currency": None, "in_stock": None, "title": None,
                "image": None, "extractor": None, "outcome": page.outcome.value,
                "detail": None, "evidence": None, "candidates": []}
    r = report.result
    return {
        "price": _price_text(r.price),
        "currency": r.currency if r.price is not None else None,
        "in_stock": r.in_stock,
        "title": r.title,
        "image": r.image,
        "extractor": r.extractor,
        "outcome": (Outcome.OK if r.price is not None else Outcome.NO_PRICE).value,
        "detail": r.detail,
        "evidence": r.evidence,
        "candidates": [
            {"price": _price_text(c.price), "currency": c.currency, "extractor": c.extractor,
             "selector": selector_for(c), "evidence": c.evidence}
            for c in listed(report)
        ],
    }


def render(page: Page, report: Report) -> str:
    """The readable explanation: the verdict, every candidate, every availability signal."""
    r = report.result
    lines = [f"page: {page.source}"]
    if page.url:
        lines.append(f"url:  {page.url}")
    lines.append("")
    outcome = Outcome.OK if r.price is not None else Outcome.NO_PRICE
    lines.append(table(["result", ""], [
        ("outcome", outcome.value),
        ("price", money(r.price, r.currency)),
        ("availability", stock(r.in_stock)),
        ("title", r.title),
        ("image", r.image),
        ("extractor", r.extractor),
        ("evidence", None if report.rivals else r.evidence),
        *([("error", r.error)] if r.error else []),
    ]))
    lines.append("")
    if report.rivals:
        lines.append(f"ambiguous: {len(report.rivals)} close candidates. To pin one, add its "
                     "selector to the offer in config.yaml (selector: \"...\"):")
        lines.append(table(["price", "cur", "conf", "selector", "evidence"], [
            (_price_text(c.price), c.currency, f"{c.confidence:.2f}",
             selector_for(c) or "-", c.evidence[:70]) for c in report.rivals
        ]))
        lines.append("")
    if report.candidates:
        winner_seen = False
        rows = []
        for c in report.candidates:
            chosen = (not winner_seen and c.extractor == r.extractor and c.price == r.price)
            winner_seen = winner_seen or chosen
            rows.append(("*" if chosen else "", c.extractor, _price_text(c.price),
                         c.currency, f"{c.confidence:.2f}", c.role, c.evidence[:90]))
        lines.append(f"price candidates ({len(rows)}; * = chosen):")
        lines.append(table(["", "extractor", "price", "cur", "conf", "role", "evidence"], rows))
    else:
        lines.append("price candidates: none")
    lines.append("")
    if report.availability:
        lines.append(f"availability signals ({len(report.availability)}):")
        lines.append(table(["in stock", "conf", "evidence"], [
            (s.in_stock, f"{s.confidence:.2f}", s.evidence[:90]) for s in report.availability
        ]))
    else:
        lines.append("availability signals: none")
    if report.notes:
        lines.append("")
        lines.extend(f"note: {n}" for n in report.notes)
    return "\n".join(lines)


def run(page: Page, spec: ExtractSpec, *, json_output: bool) -> tuple[int, str, str | None]:
    """(exit code, stdout text, stderr message) for one page: 0 with a price, 1 without."""
    if page.outcome is not Outcome.OK:
        message = f"{page.outcome.value}: {page.error or 'fetch failed'} ({page.source})"
        out = json.dumps(as_json(page, None)) if json_output else f"page: {page.source}\n" \
            f"outcome: {page.outcome.value}\nerror: {page.error or '-'}"
        return 1, out, message if json_output else None
    report = explain(page.text, url=page.url, spec=spec)
    code = 0 if report.result.price is not None else 1
    if json_output:
        return code, json.dumps(as_json(page, report), ensure_ascii=False), report.result.error
    return code, render(page, report), None
