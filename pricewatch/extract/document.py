"""One parsed page: the lxml tree built once, plus the cheap facts every extractor needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from lxml import etree

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

# The plain etree parser, not lxml.html's: its element proxies skip a Python class lookup per
# element, a third of the walk's cost.
_utf8_parser = etree.HTMLParser(
    encoding="utf-8", remove_comments=True, remove_pis=True, collect_ids=False
)


# The opening tag up to its first ">": no ">" after a "<script" means none after a later one.
_HEAVY = re.compile(r"<(script|style|svg)\b[^>]*>", re.IGNORECASE)


def strip_heavy(text: str) -> str:
    """The page without the contents of <script>, <style> and <svg> (their tags stay).

    Those contents are often half a page's bytes and never hold the visible price; JSON-LD is
    read from the original text. Plain str.find keeps this at a fraction of a millisecond.
    """
    out: list[str] = []
    pos = 0
    search = _HEAVY.search
    find = text.find
    while True:
        match = search(text, pos)
        if match is None:
            break
        gt = match.end()
        name = match.group(1)
        end = find("</" + name, gt)
        if end < 0:
            lower = name.lower()
            end = find("</" + lower, gt) if lower != name else -1
            if end < 0:
                break
        out.append(text[pos:gt])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def parse_tree(text: str) -> Any | None:
    """The lxml root element of an HTML text, or None when nothing could be parsed."""
    if not text or text.isspace():
        return None
    cleaned = _XML_DECL.sub("", text, count=1)
    try:
        data = cleaned.encode("utf-8", "surrogatepass")
        # NUL is searched in the bytes (a memchr); in a two-byte str it is a slow scan.
        if _CONTROL.search(cleaned, 0, 4096) or b"\x00" in data:
            data = _CONTROL.sub(" ", cleaned).encode("utf-8", "surrogatepass")
        root = etree.fromstring(data, parser=_utf8_parser)
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
    _stripped: str = field(default="", repr=False)

    @property
    def root(self) -> Any | None:
        """The page's lxml tree without script/style bodies (often half a page's bytes),
        built on first use (JSON-LD may answer without it)."""
        if not self._parsed:
            self._parsed = True
            self._stripped = strip_heavy(self.text)
            self._root = parse_tree(self._stripped)
        return self._root

    @cached_property
    def full_root(self) -> Any | None:
        """The tree of the whole page, scripts included, for an explicit rule that found
        nothing in ``root`` (a selector may target a script's contents). Parsed only then."""
        root = self.root
        if self._stripped == self.text:
            return root
        return parse_tree(self.text)

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


_TEXTS = etree.XPath(".//text()[not(parent::script) and not(parent::style)]")


def text_of(el: Any, limit: int = 400, *, plain: bool = False) -> str:
    """Visible text of an element, whitespace collapsed, without script/style content.

    ``plain`` says no script/style element of the tree holds text (``PageIndex.plain``):
    then the lazy itertext() is the same text at a third of the cost of the XPath, which
    also collects the whole subtree before the size limit applies.
    """
    try:
        if plain and not len(el):
            text = el.text
            return " ".join(text.split())[: limit * 2] if text else ""
        parts = el.itertext() if plain else _TEXTS(el)
    except (etree.XPathError, ValueError, TypeError, AttributeError):
        return ""
    out: list[str] = []
    size = 0
    for part in parts:
        out.append(part)
        size += len(part)
        if size > limit * 4:
            break
    return " ".join(" ".join(out).split())[: limit * 2]
