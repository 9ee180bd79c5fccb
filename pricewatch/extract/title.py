"""The product's name: the page's <h1>, og:title, JSON-LD name, then <title>."""

from __future__ import annotations

from pricewatch.extract.document import text_of
from pricewatch.extract.index import PageIndex

_MAX = 300


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    text = " ".join(value.split())
    return text[:_MAX] if text else None


def find_title(index: PageIndex | None, jsonld_name: str | None = None) -> str | None:
    """The best product name on the page, or None."""
    if index is None:
        return _clean(jsonld_name)
    # Pages with many <h1> use them for layout; one to three is a product heading.
    if 1 <= len(index.h1) <= 3:
        title = _clean(text_of(index.h1[0], _MAX))
        if title and len(title) >= 3:
            return title
    for meta in index.metas:
        if (meta.get("property") or meta.get("name")) == "og:title" and _clean(meta.get("content")):
            return _clean(meta.get("content"))
    if jsonld_name:
        return _clean(jsonld_name)
    if index.title is not None:
        return _clean(text_of(index.title, _MAX))
    return None
