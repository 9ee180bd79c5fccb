"""Compiling the explicit extraction rules an offer may carry (CSS, XPath, regex).

Config calls these at load time, so a typo in a selector is a config error with a line number
rather than a failed check an hour later.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pricewatch.errors import ExtractionError


@dataclass(frozen=True, slots=True)
class CssRule:
    """A CSS selector as it will run: on the Lexbor tree, or, for the few selectors Lexbor
    has no support for (cssselect's ``:contains()``), as cssselect's XPath translation on an
    lxml tree built for that offer's pages only."""

    css: str
    xpath: Any = None  # lxml.etree.XPath when Lexbor cannot run ``css``


@lru_cache(maxsize=4096)
def compile_css(css: str) -> CssRule:
    """Check a CSS selector against Lexbor, then cssselect; raise ExtractionError when
    neither can run it."""
    from selectolax.lexbor import LexborHTMLParser, SelectolaxError

    try:
        # Lexbor parses the selector on each call; an empty document makes that the only cost.
        LexborHTMLParser(b"<p>").css(css)
    except SelectolaxError:
        pass
    else:
        return CssRule(css)
    from cssselect import GenericTranslator, SelectorError
    from lxml import etree

    try:
        return CssRule(css, etree.XPath(GenericTranslator().css_to_xpath(css)))
    except (SelectorError, etree.XPathSyntaxError) as exc:
        raise ExtractionError(f"invalid CSS selector {css!r}: {exc}") from exc


@lru_cache(maxsize=4096)
def compile_xpath(xpath: str) -> Any:
    """Compile an XPath expression to an ``lxml.etree.XPath``, or raise ExtractionError."""
    from lxml import etree

    try:
        return etree.XPath(xpath)
    except etree.XPathSyntaxError as exc:
        raise ExtractionError(f"invalid XPath {xpath!r}: {exc}") from exc


@lru_cache(maxsize=1024)
def compile_regex(pattern: str) -> re.Pattern[str]:
    """Compile a price regex (group 1, if any, is the price text), or raise ExtractionError."""
    try:
        compiled = re.compile(pattern)
    except re.error as exc:
        raise ExtractionError(f"invalid regex {pattern!r}: {exc}") from exc
    if compiled.groups > 1 and "price" not in compiled.groupindex:
        raise ExtractionError(
            f"regex {pattern!r} has {compiled.groups} groups; use one, or name one (?P<price>...)"
        )
    return compiled
