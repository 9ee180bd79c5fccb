"""The product's name: the page's <h1>, og:title, JSON-LD name, then <title>."""

from __future__ import annotations

import re

from selectolax.lexbor import LexborNode

from pricewatch.extract.document import text_of
from pricewatch.extract.index import PageIndex

_MAX = 300
_WORD = re.compile(r"\w{2,}")
_MAX_HEADINGS = 12
_FALLBACK_HEADINGS = "h2, [itemprop=name]"


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    text = " ".join(value.split())
    return text[:_MAX] if text else None


def _text(el: LexborNode) -> str:
    return text_of(el, _MAX)


def _og_title(index: PageIndex) -> str | None:
    for meta in index.metas:
        attrs = meta.attributes
        if (attrs.get("property") or attrs.get("name")) == "og:title" and (
            title := _clean(attrs.get("content"))
        ):
            return title
    return None


def main_heading(
    index: PageIndex, root: LexborNode | None = None
) -> tuple[LexborNode | None, bool]:
    """The product's <h1> and whether the page's <title>/og:title vouch for it.

    Pages often carry several <h1> (a promotion banner, "Reviews", "Description"); the
    product's own is the one whose words the page title repeats. A page without <h1> (given
    its ``root``) may name the product in an <h2> or an itemprop=name element instead: one of
    those counts only when the page title vouches for it.
    """
    headings = index.h1
    fallback = False
    if not headings:
        if root is None:
            return None, False
        headings = root.css(_FALLBACK_HEADINGS)
        fallback = True
        if not headings:
            return None, False
    page_title = _text(index.title) if index.title is not None else ""
    reference = " ".join(t for t in (_og_title(index), page_title) if t)
    known = set(_WORD.findall(reference.lower()))
    best, best_score = headings[0], (0.0, 0)
    for heading in headings[:_MAX_HEADINGS]:
        seen = set(_WORD.findall(_text(heading).lower()))
        if not seen:
            continue
        shared = len(seen & known)
        score = (shared / len(seen), shared)
        if score > best_score:
            best, best_score = heading, score
    vouched = best_score[0] >= 0.5
    if fallback and not vouched:
        return None, False
    return best, vouched


def find_title(index: PageIndex | None, jsonld_name: str | None = None) -> str | None:
    """The best product name on the page, or None."""
    if index is None:
        return _clean(jsonld_name)
    heading, vouched = main_heading(index)
    # Pages with many <h1> use them for layout; one to three is a product heading, and so is
    # one the page title repeats.
    if heading is not None and (vouched or len(index.h1) <= 3):
        title = _clean(_text(heading))
        if title and len(title) >= 3:
            return title
    og = _og_title(index)
    if og:
        return og
    if jsonld_name:
        return _clean(jsonld_name)
    if index.title is not None:
        return _clean(_text(index.title))
    return None
