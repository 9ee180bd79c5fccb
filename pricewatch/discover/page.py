"""What one fetched HTML page tells the crawl: its canonical URL, its links, and whether it
is a product page (read by the project's own extractors, from the same parse).

Runs in a worker thread: parsing and extraction are the crawl's CPU cost, and the event loop
keeps fetching meanwhile.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import urljoin

from selectolax.lexbor import LexborNode

from pricewatch.discover.urls import Scope, canonical
from pricewatch.extract.candidates import Report
from pricewatch.extract.document import Document
from pricewatch.extract.entry import explain_document
from pricewatch.models import Extraction, ExtractSpec

# Structured data that names a product and its offer: the page is that product's.
_STRUCTURED = frozenset(["jsonld", "microdata", "rdfa", "opengraph", "meta"])
# A visible price counts only right below the page's main heading, and inside the block that
# holds the heading and the buy button (a page without a buy button has no such block: there,
# when no link shares the amount's small box, see _in_linked_card). One the page repeats among
# other amounts (a listing's tiles) never does. A listing's prices sit beside their own
# cards' names, and the resolver leaves a page of several of them ambiguous anyway.
_NEAR = "near_heading"
_BLOCK = "main_block"
_LISTING = "repeated"
_CARD_DEPTH = 3  # ancestors of the amount searched for a card's link
_AUTO = ExtractSpec()


@dataclass(frozen=True, slots=True)
class Reading:
    """One page, read: ``canonical`` is its rel=canonical (in scope) or None; ``links``
    the in-scope canonical URLs it links to, with whether each pages through this listing
    (rel=next/prev); ``product`` the extraction when the page is a product's."""

    canonical: str | None
    links: tuple[tuple[str, bool], ...]
    product: Extraction | None
    follow: bool = True  # False: <meta name=robots content=nofollow>


def read(text: str, url: str, scope: Scope) -> Reading:
    """Parse ``text`` once; links, canonical and extraction all come from that tree."""
    doc = Document(text, url, _AUTO)
    tree = doc.tree
    report = explain_document(doc)
    product = report.result if is_product(report) else None
    if tree is None:
        return Reading(None, (), product)
    base = url
    base_el = tree.css_first("base[href]")
    if base_el is not None:
        base = urljoin(url, base_el.attributes.get("href") or "")
    found: str | None = None
    for el in tree.css("link[rel][href]"):
        rel = (el.attributes.get("rel") or "").lower().split()
        if "canonical" in rel:
            target = canonical(urljoin(base, el.attributes.get("href") or ""))
            if target is not None and scope.allows(target):
                found = target
            break
    follow = True
    for meta in tree.css("meta[name][content]"):
        if (meta.attributes.get("name") or "").lower() == "robots" and "nofollow" in (
                meta.attributes.get("content") or "").lower():
            follow = False
    links: dict[str, bool] = {}
    if follow and product is None:
        for el in tree.css("a[href], link[rel][href]"):
            attrs = el.attributes
            rel = (attrs.get("rel") or "").lower().split()
            if el.tag == "link" and not ({"next", "prev"} & set(rel)):
                continue
            if "nofollow" in rel:
                continue
            target = canonical(urljoin(base, attrs.get("href") or ""))
            if target is None or not scope.allows(target):
                continue
            paging = bool({"next", "prev"} & set(rel))
            links[target] = links.get(target, False) or paging
    return Reading(found, tuple(links.items()), product, follow)


def is_product(report: Report) -> bool:
    """A product page: structured data with a price (the extractors found a Product with an
    offer), or a confident visible price next to the main title, in the product's block."""
    result = report.result
    if result.price is None or result.extractor is None:
        return False
    if result.extractor in _STRUCTURED:
        return True
    if result.extractor != "heuristic":
        return False
    for c in report.candidates:
        if c.extractor != "heuristic" or c.price != result.price:
            continue
        cues = {name for name, value in c.cues if value > 0}
        if _NEAR not in cues or _LISTING in cues:
            continue
        if _BLOCK in cues or (c.element is not None and not _in_linked_card(c.element)):
            return True
    return False


def _in_linked_card(el: LexborNode) -> bool:
    """Whether the amount sits in a small box that also links to another page: a listing's
    card (name linked to the product, price beside it). A product page's buy box holds no
    such link, even where the page has no buy button to mark the product's block."""
    node = el.parent
    for _ in range(_CARD_DEPTH):
        if node is None or node.tag in ("body", "html"):
            return False
        for link in node.css("a[href]"):
            href = (link.attributes.get("href") or "").strip()
            if href and not href.startswith(("#", "javascript:")):
                return True
        node = node.parent
    return False
