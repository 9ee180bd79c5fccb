"""Reading sitemaps (sitemaps.org): a ``<urlset>`` of pages, a ``<sitemapindex>`` of further
sitemaps, or the protocol's plain-text form (one URL per line).

The XML goes through defusedxml with DTDs forbidden: a sitemap never needs one, and a DTD is
how entity bombs and external entities get in. Size is bounded before parsing (the fetcher's
``max_bytes``, gzip included) and the entries per file by the protocol's own limit.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from xml.etree.ElementTree import ParseError

from defusedxml import DefusedXmlException
from defusedxml.ElementTree import iterparse

MAX_ENTRIES = 50_000  # the protocol's limit per file
_DECLARATION = re.compile(r"^\s*<\?xml[^>]*\?>")


class SitemapError(ValueError):
    """A document that is not a readable sitemap; the message says why."""


@dataclass(frozen=True, slots=True)
class Sitemap:
    """The URLs a sitemap lists: pages, or (for an index) further sitemaps."""

    index: bool
    urls: tuple[str, ...]
    truncated: bool = False  # more than MAX_ENTRIES entries; the rest were not read


def parse(text: str) -> Sitemap:
    """The entries of one sitemap document; raises SitemapError for anything else."""
    stripped = text.lstrip("\ufeff \t\r\n")
    if not stripped.startswith("<"):
        return _plain(stripped)
    # The text is decoded already; a declaration naming another encoding would make expat
    # decode the UTF-8 bytes below a second time.
    data = _DECLARATION.sub("", stripped, count=1).encode("utf-8", "surrogatepass")
    urls: list[str] = []
    root: str | None = None
    try:
        for event, element in iterparse(io.BytesIO(data), events=("start", "end"),
                                        forbid_dtd=True):
            name = element.tag.rsplit("}", 1)[-1]
            if event == "start":
                if root is None:
                    root = name
                    if root not in ("urlset", "sitemapindex"):
                        raise SitemapError(f"not a sitemap: the document is <{root}>")
                continue
            if name == "loc" and element.text and element.text.strip():
                urls.append(element.text.strip())
                if len(urls) >= MAX_ENTRIES:
                    return Sitemap(root == "sitemapindex", tuple(urls), truncated=True)
            elif name in ("url", "sitemap"):
                element.clear()  # keeps memory flat over a long file
    except DefusedXmlException as exc:
        raise SitemapError(f"refused: {type(exc).__name__} (a sitemap needs no DTD or "
                           "entities)") from exc
    except ParseError as exc:
        raise SitemapError(f"not well-formed XML: {exc}") from exc
    if root is None:
        raise SitemapError("empty document")
    return Sitemap(root == "sitemapindex", tuple(urls))


def _plain(text: str) -> Sitemap:
    urls = []
    for written in text.splitlines():
        line = written.strip()
        if not line:
            continue
        if not line.lower().startswith(("http://", "https://")):
            raise SitemapError("not a sitemap: neither XML nor one URL per line")
        urls.append(line)
        if len(urls) >= MAX_ENTRIES:
            return Sitemap(False, tuple(urls), truncated=True)
    return Sitemap(False, tuple(urls))
