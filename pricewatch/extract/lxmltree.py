"""The lxml tree, built only for explicit XPath rules (and CSS that Lexbor cannot run).

Automatic extraction reads the Lexbor tree (document.py); XPath has no Lexbor equivalent, so
offers that ask for it pay for a second parser on their own pages only.
"""

from __future__ import annotations

import re
from typing import Any

from lxml import etree

# lxml refuses str input that still carries an XML encoding declaration; the text is already
# decoded, so the declaration is only noise.
_XML_DECL = re.compile(r"^\s*<\?xml[^>]*\?>", re.IGNORECASE)
# Control characters (NUL above all) make libxml2 stop or refuse the document.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")

_utf8_parser = etree.HTMLParser(
    encoding="utf-8", remove_comments=True, remove_pis=True, collect_ids=False
)

# The opening tag up to its first ">": no ">" after a "<script" means none after a later one.
_HEAVY = re.compile(r"<(script|style|svg)\b[^>]*>", re.IGNORECASE)


def strip_heavy(text: str) -> str:
    """The page without the contents of <script>, <style> and <svg> (their tags stay).

    Those contents are often half a page's bytes and never hold the visible price; libxml2
    parses what is left in half the time.
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


_TEXTS = etree.XPath(".//text()[not(parent::script) and not(parent::style)]")


def text_of(el: Any, limit: int = 400) -> str:
    """Visible text of an lxml element, whitespace collapsed, without script/style content
    (text nodes joined with a space, as ``document.text_of`` reads Lexbor nodes)."""
    try:
        parts = _TEXTS(el)
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
