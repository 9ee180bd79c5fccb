"""The product's main image: JSON-LD ``image``, og:image, microdata image, then the first
picture in the main product block. Always an absolute http(s) URL, or None."""

from __future__ import annotations

import re
from urllib.parse import urljoin, urlsplit

from selectolax.lexbor import LexborNode

from pricewatch.extract.index import PageIndex

_MAX_URL = 2000
_META_KEYS = ("og:image", "og:image:url", "og:image:secure_url", "twitter:image")
# Pictures that are page furniture, not the product.
_FURNITURE = re.compile(r"logo|icon|sprite|spacer|pixel|blank|placeholder|loading|badge|flag"
                        r"|rating|star|avatar|banner", re.I)
_LAZY = ("data-src", "data-original", "data-lazy-src", "data-zoom-image", "src")


def absolute(url: str | None, base: str) -> str | None:
    """``url`` made absolute against ``base``; None unless the result is http(s)."""
    if not url or not isinstance(url, str):
        return None
    url = url.strip()
    if not url or len(url) > _MAX_URL or url.startswith("data:"):
        return None
    try:
        joined = urljoin(base, url) if base else url
        parts = urlsplit(joined)
    except ValueError:
        return None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return None
    return joined


def _from_metas(index: PageIndex) -> str | None:
    values: dict[str, str] = {}
    for meta in index.metas[:400]:
        attrs = meta.attributes
        key = (attrs.get("property") or attrs.get("name") or "").strip().lower()
        content = attrs.get("content")
        if key in _META_KEYS and content and key not in values:
            values[key] = content
    return next((values[k] for k in _META_KEYS if k in values), None)


def _from_props(index: PageIndex) -> str | None:
    for el in index.props[:400]:
        attrs = el.attributes
        if (attrs.get("itemprop") or "").lower() == "image":
            value = attrs.get("content") or attrs.get("src") or attrs.get("href")
            if value:
                return value
    return None


def _img_src(img: LexborNode) -> str | None:
    attrs = img.attributes
    for key in _LAZY:
        value = attrs.get(key)
        if value and not value.startswith("data:"):
            return value
    return None


def _from_block(block: LexborNode) -> str | None:
    for img in block.css("img")[:20]:
        src = _img_src(img)
        label = f"{src} {img.attributes.get('class') or ''} {img.attributes.get('alt') or ''}"
        if src and not _FURNITURE.search(label):
            return src
    return None


def find_image(
    index: PageIndex | None, base: str, jsonld_images: list[str], block: LexborNode | None
) -> str | None:
    """The product image's absolute URL, strongest source first (``block``: the main
    product block the heuristic found, if any)."""
    for raw in jsonld_images:
        if found := absolute(raw, base):
            return found
    if index is None:
        return None
    for source in (_from_metas, _from_props):
        if found := absolute(source(index), base):
            return found
    return absolute(_from_block(block), base) if block is not None else None
