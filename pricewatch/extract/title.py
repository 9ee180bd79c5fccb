"""The product's name: the page's single <h1>, og:title, JSON-LD name, then <title>."""

from __future__ import annotations

from typing import Any

from lxml import etree

from pricewatch.extract.document import text_of

_H1 = etree.XPath("//h1")
_OG_TITLE = etree.XPath("//meta[@property='og:title' or @name='og:title']/@content")
_TITLE = etree.XPath("//title")
_MAX = 300


def _clean(value: str | None) -> str | None:
    if not value:
        return None
    text = " ".join(value.split())
    return text[:_MAX] if text else None


def find_title(root: Any | None, jsonld_name: str | None = None) -> str | None:
    """The best product name on the page, or None."""
    if root is None:
        return _clean(jsonld_name)
    try:
        h1s = _H1(root)
        if len(h1s) == 1 or (h1s and len(h1s) <= 3):
            title = _clean(text_of(h1s[0], _MAX))
            if title and len(title) >= 3:
                return title
        og = _OG_TITLE(root)
        if og and _clean(og[0]):
            return _clean(og[0])
        if jsonld_name:
            return _clean(jsonld_name)
        titles = _TITLE(root)
        return _clean(titles[0].text_content()) if titles else None
    except (etree.XPathError, ValueError):
        return _clean(jsonld_name)
