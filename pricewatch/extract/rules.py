"""Compiling the explicit extraction rules an offer may carry (CSS, XPath, regex).

Config calls these at load time, so a typo in a selector is a config error with a line number
rather than a failed check an hour later.
"""

from __future__ import annotations

import re
from functools import lru_cache

from cssselect import GenericTranslator, SelectorError
from lxml import etree

from pricewatch.errors import ExtractionError

_translator = GenericTranslator()


@lru_cache(maxsize=4096)
def compile_css(css: str) -> etree.XPath:
    """Compile a CSS selector to an lxml XPath, or raise ExtractionError."""
    try:
        return etree.XPath(_translator.css_to_xpath(css))
    except (SelectorError, etree.XPathSyntaxError) as exc:
        raise ExtractionError(f"invalid CSS selector {css!r}: {exc}") from exc


@lru_cache(maxsize=4096)
def compile_xpath(xpath: str) -> etree.XPath:
    """Compile an XPath expression, or raise ExtractionError."""
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
