"""One parsed page: the lxml tree built once, plus the cheap facts every extractor needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lxml import etree, html

from pricewatch.extract.index import PageIndex, build
from pricewatch.extract.locales import Hints, page_hints
from pricewatch.models import ExtractSpec

# lxml refuses str input that still carries an XML encoding declaration; the text is already
# decoded, so the declaration is only noise.
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# Control characters (NUL above all) make libxml2 stop or refuse the document.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
_HTML_LANG = re.compile(
    r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z]{2})?)", re.I
)

_utf8_parser = html.HTMLParser(
    encoding="utf-8", remove_comments=True, remove_pis=True, collect_ids=False
)


def parse_tree(text: str) -> Any | None:
    """The lxml root element of an HTML text, or None when nothing could be parsed."""
    if not text or not text.strip():
        return None
    cleaned = _XML_DECL.sub("", text, count=1)
    if _CONTROL.search(cleaned, 0, 4096) or "\x00" in cleaned:
        cleaned = _CONTROL.sub(" ", cleaned)
    try:
        root = etree.fromstring(cleaned.encode("utf-8", "surrogatepass"), parser=_utf8_parser)
    except (etree.ParserError, etree.XMLSyntaxError, ValueError, UnicodeError):
        return None
    return root


@dataclass
class Document:
    """A page as all extractors see it."""

    text: str
    url: str
    spec: ExtractSpec
    _root: Any = field(default=None, repr=False)
    _parsed: bool = False

    @property
    def root(self) -> Any | None:
        """The page's lxml tree, built on first use (JSON-LD may answer without it)."""
        if not self._parsed:
            self._parsed = True
            self._root = parse_tree(self.text)
        return self._root

    @cached_property
    def index(self) -> PageIndex:
        """Elements by role, from one walk over the tree (empty when there is no tree)."""
        root = self.root
        return build(root) if root is not None else PageIndex()

    @cached_property
    def html_lang(self) -> str | None:
        match = _HTML_LANG.search(self.text, 0, 20000)
        return match.group(1) if match else None

    @cached_property
    def hints(self) -> Hints:
        return page_hints(
            url=self.url,
            locale=self.spec.locale,
            currency=self.spec.currency,
            html_lang=self.html_lang,
        )


def text_of(el: Any, limit: int = 400) -> str:
    """Visible text of an element, whitespace collapsed, without script/style content."""
    try:
        parts = el.xpath(".//text()[not(ancestor::script) and not(ancestor::style)]")
    except (etree.XPathError, ValueError):
        return ""
    out: list[str] = []
    size = 0
    for part in parts:
        out.append(part)
        size += len(part)
        if size > limit * 4:
            break
    return " ".join(" ".join(out).split())[: limit * 2]
