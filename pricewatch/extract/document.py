"""One parsed page: the Lexbor tree built once, plus the cheap facts every extractor needs."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from selectolax.lexbor import LexborDocumentOptions, LexborHTMLParser, LexborNode

from pricewatch.extract.index import PageIndex, build
from pricewatch.extract.locales import Hints, page_hints
from pricewatch.models import ExtractSpec

_HTML_LANG = re.compile(
    r"<html\b[^>]*?\blang\s*=\s*[\"']?([A-Za-z]{2,3}(?:[-_][A-Za-z]{2})?)", re.I
)
# Their contents never hold the visible price, and leaving them in would put script source
# into every text read; removing them after the parse is cheap beside the parse itself.
_HEAVY = "script, style, svg"
# Without DOM mutation events: they keep <option> selectedness and <selectedcontent> up to
# date, which no extractor reads, and slow the parse of pages with long <select>s.
_OPTIONS = LexborDocumentOptions.WO_EVENTS.value


def parse_tree(text: str, *, strip: bool = True) -> LexborHTMLParser | None:
    """The Lexbor document of an HTML text (script, style and svg removed unless ``strip``
    is false), or None for an empty text.

    Lexbor builds a tree the way a browser does for any input, NUL bytes and binary junk
    included; the only pages refused are empty ones and those nested too deep to parse in
    bounded time (see ``too_deep``).
    """
    if not text or text.isspace():
        return None
    # Bytes parse faster than str; surrogatepass keeps a lone surrogate from raising, and
    # Lexbor reads its invalid UTF-8 as U+FFFD like any other bad byte.
    data = text.encode("utf-8", "surrogatepass")
    if too_deep(data):
        return None
    tree = LexborHTMLParser(data, options=_OPTIONS)
    if strip:
        # One query instead of ``strip_tags``' pass per tag name. Last first: a script inside
        # an svg is destroyed before the svg that holds it, never after.
        for node in reversed(tree.css(_HEAVY)):
            node.decompose(recursive=True)
    return tree


# Lexbor, unlike browsers, has no cap on nesting depth, and the HTML5 tree builder looks
# through the open elements for many tags (a <div> closes an open <p> "in button scope"), so a
# page of tens of thousands of unclosed <div>s takes seconds to parse, and a few hundred
# thousand minutes. Up to _FEW_TAGS tags the worst case stays under a second; above, a scan
# bounds the depth, at a small part of what parsing such a (rare, multi-megabyte) page costs.
_FEW_TAGS = 30_000
_MAX_WORK = 200_000_000  # tags x depth: well under a second of Lexbor's scope walks
_RAW_TEXT = frozenset(
    b"script style textarea title xmp noembed noframes iframe plaintext".split()
)
# Void elements never stay open, and these close when a sibling starts: neither deepens. The
# regex passes over them without a match object.
_FLAT = frozenset(
    b"area base br col embed hr img input link meta source track wbr param keygen p li dt dd"
    b" option optgroup tr td th tbody thead tfoot rb rt rp".split()
)
_TAG = re.compile(
    rb"<(/?)(?!(?:" + b"|".join(sorted(_FLAT)) + rb")[\s/>])([A-Za-z][A-Za-z0-9-]*)"
)


def too_deep(data: bytes) -> bool:
    """Whether parsing ``data`` could cost more than ``_MAX_WORK`` scope-walk steps.

    A linear scan with a stack of open elements: an end tag closes only an element that is
    open, as in the tree builder, so stray end tags cannot hide depth. Real shop pages nest
    20-40 deep; the scan runs only on pages with more than ``_FEW_TAGS`` tags.
    """
    tags = data.count(b"<")
    if tags <= _FEW_TAGS:
        return False
    limit = _MAX_WORK // tags
    # Lower case once (a few ms on the pages that get here): tag names and the ends of
    # raw-text blocks then match in any case, and each block end is found by one find().
    data = data.lower()
    stack: list[bytes] = []
    open_count: dict[bytes, int] = {}
    pos = 0
    search = _TAG.search
    while (match := search(data, pos)) is not None:
        pos = match.end()
        name = match.group(2)
        if name in _FLAT:
            continue
        if match.group(1):
            if open_count.get(name):
                while True:
                    top = stack.pop()
                    open_count[top] -= 1
                    if top == name:
                        break
            continue
        if name in _RAW_TEXT:
            end = data.find(b"</" + name, pos)
            if end < 0:
                return False
            pos = end + 2 + len(name)
            continue
        stack.append(name)
        open_count[name] = open_count.get(name, 0) + 1
        if len(stack) > limit:
            return True
    return False


@dataclass
class Document:
    """A page as all extractors see it."""

    text: str
    url: str
    spec: ExtractSpec
    _tree: LexborHTMLParser | None = field(default=None, repr=False)
    _parsed: bool = False

    @property
    def tree(self) -> LexborHTMLParser | None:
        """The page's Lexbor document without script/style/svg elements, built on first use
        (JSON-LD may answer without it)."""
        if not self._parsed:
            self._parsed = True
            self._tree = parse_tree(self.text)
        return self._tree

    @property
    def root(self) -> LexborNode | None:
        """The <html> element of ``tree`` (Lexbor always builds one)."""
        tree = self.tree
        return tree.root if tree is not None else None

    @cached_property
    def full_tree(self) -> LexborHTMLParser | None:
        """The whole page, scripts included, for an explicit rule that found nothing in
        ``tree`` (a selector may target a script's contents). Parsed only then, and only when
        the page has something ``tree`` left out."""
        tree = self.tree
        if tree is None or not _has_heavy(self.text):
            return tree
        return parse_tree(self.text, strip=False)

    @cached_property
    def _lxml_text(self) -> str:
        from pricewatch.extract.lxmltree import strip_heavy

        return strip_heavy(self.text)

    @cached_property
    def lxml_root(self) -> Any | None:
        """An lxml tree of the page without script bodies, for XPath rules only (lxml is
        imported and run only for offers that have one)."""
        from pricewatch.extract.lxmltree import parse_tree as lxml_parse

        return lxml_parse(self._lxml_text)

    @cached_property
    def lxml_full_root(self) -> Any | None:
        """The lxml tree of the whole page, when an XPath found nothing in ``lxml_root``."""
        from pricewatch.extract.lxmltree import parse_tree as lxml_parse

        if self._lxml_text == self.text:
            return self.lxml_root
        return lxml_parse(self.text)

    @cached_property
    def index(self) -> PageIndex:
        """Elements by role, from one CSS query run in C (empty when there is no tree)."""
        tree = self.tree
        return build(tree) if tree is not None else PageIndex()

    @cached_property
    def facts_index(self) -> PageIndex:
        """The index availability and the title read, without price-labelled elements: the
        cheaper query when an explicit rule already found the price (``index`` when built)."""
        if "index" in self.__dict__:
            return self.index
        tree = self.tree
        return build(tree, prices=False) if tree is not None else PageIndex()

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


_HEAVY_TAG = re.compile(r"<(?:script|style|svg)\b", re.IGNORECASE)


def _has_heavy(text: str) -> bool:
    return _HEAVY_TAG.search(text) is not None


def text_of(el: LexborNode, limit: int = 400) -> str:
    """Visible text of an element, whitespace collapsed (the tree holds no script/style).

    Text nodes are joined with a space, so "<b>12</b><i>99</i>" reads "12 99" as it always
    did; the C side concatenates, Python only collapses whitespace.
    """
    try:
        text = el.text(deep=True, separator=" ")
    except (ValueError, TypeError, AttributeError):
        return ""
    return " ".join(text.split())[: limit * 2]
