"""`pricewatch add URL`: fetch a product page, show what was found, append it to the config.

The page is fetched as checks fetch it (robots.txt, user agent, size caps, classification),
with the config's http settings. The product goes in only when its price is clear: a page
whose price is missing or contested gets its candidates and the selectors that read each of
them, to pass back as ``--selector``. The file is edited as text (see configedit), validated
as a whole by the real loader, and replaced atomically; a running daemon reloads it.
"""

from __future__ import annotations

import os
import re
import shlex
import sys
import unicodedata
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from selectolax.lexbor import LexborHTMLParser, LexborNode

from pricewatch.cli import check as checkcmd
from pricewatch.cli import configedit
from pricewatch.cli.text import money, stock, table
from pricewatch.config import HttpConfig, Settings, load, loads
from pricewatch.config.types import SLUG
from pricewatch.errors import ConfigError, ExtractionError
from pricewatch.extract import Report, explain
from pricewatch.extract.candidates import Candidate
from pricewatch.models import ExtractSpec, Offer, Outcome

# Two prices read from the visible page this close in confidence are a coin toss: `add`
# asks which one rather than track the wrong one for months.
_CLOSE = 0.05
_EVIDENCE = re.compile(r"^visible <([a-z0-9]+) '([^']*)'>")


@dataclass(frozen=True, slots=True)
class Choice:
    """A price candidate and a selector that reads exactly it (None: none was found)."""

    candidate: Candidate
    selector: str | None


@dataclass(frozen=True, slots=True)
class Request:
    """What the command line asked for."""

    url: str
    config: Path
    name: str | None = None
    product_id: str | None = None
    store: str | None = None
    selector: str | None = None
    dry_run: bool = False


def slugify(text: str) -> str:
    """A product id from a title: ``"Classic Kettle (1.7 L)"`` -> ``classic-kettle-1.7-l``."""
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9.]+", "-", ascii_text.lower()).strip("-.")
    slug = re.sub(r"-{2,}", "-", slug)
    if len(slug) > 60:
        slug = slug[:60].rsplit("-", 1)[0]
    return slug


def _url_slug(url: str) -> str:
    parts = [p for p in urlsplit(url).path.split("/") if p]
    return slugify(parts[-1].rsplit(".", 1)[0]) if parts else ""


def contested(report: Report) -> list[Candidate] | None:
    """The candidates to choose from when the price is not clear; None when it is."""
    result = report.result
    if result.price is None:
        return list(report.candidates) or None
    if result.extractor != "heuristic":
        return None
    visible = [c for c in report.candidates if c.extractor == "heuristic" and c.role == "current"]
    winner = max((c for c in visible if c.price == result.price),
                 key=lambda c: c.confidence, default=None)
    if winner is None:
        return None
    rivals = [c for c in visible
              if c.price != result.price and c.confidence >= winner.confidence - _CLOSE]
    return [winner, *rivals] if rivals else None


def _css_path(node: LexborNode) -> str:
    """A selector for ``node``: from the nearest ancestor with an id, tags with
    :nth-of-type where siblings share a tag."""
    parts: list[str] = []
    current: LexborNode | None = node
    while current is not None and current.tag not in ("html", "-document", None):
        ident = current.attributes.get("id")
        if ident and re.fullmatch(r"[A-Za-z][\w-]*", ident):
            parts.append(f"#{ident}")
            break
        tag = current.tag or "*"
        parent = current.parent
        same = [c for c in parent.iter() if c.tag == tag] if parent is not None else []
        if len(same) > 1:
            position = next(i for i, c in enumerate(same, 1) if c.mem_id == current.mem_id)
            tag = f"{tag}:nth-of-type({position})"
        parts.append(tag)
        current = parent
    return " > ".join(reversed(parts))


def selectors_for(text: str, url: str, candidates: list[Candidate]) -> list[Choice]:
    """Each candidate with a selector that `pricewatch` itself reads as that price."""
    tree = LexborHTMLParser(text)
    choices = []
    for candidate in candidates:
        own = getattr(candidate, "selector", None)  # extractors may name theirs one day
        options = [own] if isinstance(own, str) else []
        match = _EVIDENCE.match(candidate.evidence)
        if match is not None:
            tag, label = match.groups()
            for node in tree.css(tag):
                attrs = node.attributes
                if " ".join(f"{attrs.get('class') or ''} {attrs.get('id') or ''}".split()
                            )[:50] == label:
                    classes = (attrs.get("class") or "").split()
                    if classes and all(re.fullmatch(r"-?[A-Za-z_][\w-]*", c) for c in classes):
                        options.append(tag + "".join(f".{c}" for c in classes))
                    options.append(_css_path(node))
        chosen = None
        for option in dict.fromkeys(options):
            try:
                found = explain(text, url=url, spec=ExtractSpec(selector=option)).result
            except ExtractionError:  # a selector Lexbor cannot run
                continue
            if found.price == candidate.price:
                chosen = option
                break
        choices.append(Choice(candidate, chosen))
    return choices


def findings(page: checkcmd.Page, report: Report) -> str:
    r = report.result
    rows = [("page", page.source), ("price", money(r.price, r.currency)),
            ("stock", stock(r.in_stock)), ("title", r.title), ("extractor", r.extractor),
            ("evidence", r.evidence)]
    if r.error:
        rows.append(("error", r.error))
    return table(["found", ""], rows)


def choices_text(url: str, config: Path, choices: list[Choice]) -> str:
    rows = [(str(n), c.candidate.extractor, money(c.candidate.price, c.candidate.currency),
             f"{c.candidate.confidence:.2f}", c.candidate.evidence[:60], c.selector or "-")
            for n, c in enumerate(choices, 1)]
    lines = ["The price is not clear on this page. Candidates:",
             table(["#", "extractor", "price", "conf", "evidence", "selector"], rows), "",
             "Pick the one you pay, and add it with its selector:"]
    for c in choices:
        if c.selector:
            lines.append(f"  pricewatch add {url} -c {config} --selector {shlex.quote(c.selector)}"
                         f"   # {money(c.candidate.price, c.candidate.currency)}")
    if not any(c.selector for c in choices):
        lines.append(f"  (no selector reads one alone; see `pricewatch check {url}`)")
    return "\n".join(lines)


def _current(config: Path) -> tuple[str | None, Settings | None]:
    """The config's text and settings (None, None when there is no file yet). A file that
    does not load now is refused: a product added to it could not be checked either."""
    if config.is_dir():
        raise ConfigError(f"is a directory; give the config file in it, e.g. "
                          f"{config / 'config.yaml'}", file=str(config))
    if not config.exists():
        return None, None
    try:
        text = config.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(f"cannot read: not UTF-8 ({exc.reason})", file=str(config)) from exc
    return text, load(config)


async def run(request: Request) -> int:
    """Fetch, show, decide, write; the exit code (0 added, 1 nothing added)."""
    text, settings = _current(request.config)
    out = sys.stderr if request.dry_run else sys.stdout
    offers = settings.offers() if settings is not None else []
    for known in offers:
        if known.url == request.url:
            raise ConfigError(f"{request.url} is already watched as {known.key} (product "
                              f"{known.product_name!r})", file=str(request.config))
    if request.product_id is not None:
        _check_id(request.product_id, offers, request.config)
    if request.selector:
        checkcmd.build_spec(selector=request.selector)  # a bad selector fails before fetching
    http = settings.model.http if settings is not None else HttpConfig()
    page = await checkcmd.fetch_page(request.url, http)
    if page.outcome is not Outcome.OK:
        print(f"could not fetch {request.url}: {page.outcome.value}: "
              f"{page.error or 'fetch failed'} ({page.source}); nothing added", file=out)
        return 1
    report = explain(page.text, url=page.url, spec=ExtractSpec(selector=request.selector))
    print(findings(page, report), file=out)
    print(file=out)
    if request.selector is None:
        rivals = contested(report)
        if rivals is not None:
            print(choices_text(request.url, request.config,
                               selectors_for(page.text, page.url, rivals)), file=out)
            print("\nnothing added", file=out)
            return 1
    if report.result.price is None:
        print(f"no price found ({report.result.error}); nothing added. "
              f"`pricewatch check {request.url}` shows what each extractor saw.", file=out)
        return 1
    name = request.name or report.result.title or _url_slug(request.url)
    product_id = request.product_id or slugify(name) or _url_slug(request.url) or "product"
    _check_id(product_id, offers, request.config)
    offer: list[tuple[str, str]] = [("url", request.url)]
    if request.store:
        offer.append(("store", request.store))
    if request.selector:
        offer.append(("selector", request.selector))
    before = settings.product_count if settings is not None else 0
    new_text, item, line = _edited(text or "", product_id, name or product_id, offer,
                                   config=request.config, before=before)
    if request.dry_run:
        print(item, end="")
        return 0
    configedit.write_atomically(request.config, new_text.encode("utf-8"))
    count = item.count("\n")
    print(f"added {product_id} ({name}) to {request.config}, lines {line}-{line + count - 1}; "
          f"a running daemon picks it up within seconds (it watches the file)", file=out)
    return 0


def _check_id(product_id: str, offers: list[Offer], config: Path) -> None:
    if not SLUG.match(product_id):
        raise ConfigError(f"--id {product_id!r}: must be a slug: lowercase letters, digits, "
                          "'.', '_' or '-' (at most 80)")
    taken = {o.product_id for o in offers}
    if product_id in taken:
        raise ConfigError(f"product id {product_id!r} is already in the config; choose "
                          "another with --id", file=str(config))


def _edited(text: str, product_id: str, name: str, offer: list[tuple[str, str]], *,
            config: Path, before: int) -> tuple[str, str, int]:
    """The new file text, the item's own text and its first line; the new text must load
    with exactly one more product, or nothing is written."""
    file = str(config)
    newline = "\r\n" if "\r\n" in text else "\n"
    layout = configedit.layout_of(text, file=file)
    item = configedit.product_item([("id", product_id), ("name", name)], offer, layout,
                                   newline)
    new_text, line = configedit.insert_item(text, layout, item, newline)
    try:
        after = loads(new_text, file=file, environ=os.environ, source=config.resolve())
    except ConfigError as exc:
        raise ConfigError(f"the config with the new product would not load, so it was not "
                          f"written: {exc}", file=file) from exc
    if after.product_count != before + 1 or product_id not in {
            o.product_id for o in after.offers()}:
        raise ConfigError("could not place the new product in the file; nothing written "
                          "(add it by hand)", file=file)
    return new_text, item, line
