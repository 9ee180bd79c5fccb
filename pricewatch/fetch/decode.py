"""Bytes to text: charset from the header, then the page's meta tag, then detection.

Undecodable bytes become U+FFFD; decoding never raises. ``not_text`` then tells bytes that
are no text at all (an image, a brotli body served without its Content-Encoding) from a page
with a few bad bytes: digits found in binary junk must never become a price."""

from __future__ import annotations

import codecs
import re

_META_CHARSET = re.compile(
    rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9_.:-]+)""", re.IGNORECASE
)


def _known(name: str | None) -> str | None:
    if not name:
        return None
    try:
        return codecs.lookup(name.strip().strip("\"'")).name
    except LookupError:
        return None


def sniff_charset(body: bytes) -> str | None:
    """The charset a page declares in its first 4 KB, if any (BOMs first)."""
    if body.startswith(codecs.BOM_UTF8):
        return "utf-8"
    if body.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return "utf-16"
    match = _META_CHARSET.search(body[:4096])
    return _known(match.group(1).decode("ascii", "replace")) if match else None


def decode(body: bytes, header_charset: str | None) -> tuple[str, str]:
    """Return (text, charset used)."""
    charset = _known(header_charset) or sniff_charset(body)
    if charset is None:
        try:
            return body.decode("utf-8"), "utf-8"
        except UnicodeDecodeError:
            # Pages without a declaration that are not UTF-8 are overwhelmingly Windows-1252
            # (the WHATWG default for undeclared Western pages).
            charset = "cp1252"
    if charset in ("ascii", "iso8859-1", "latin-1"):
        charset = "cp1252"  # browsers treat these labels as windows-1252, and so do shops
    return body.decode(charset, errors="replace"), charset


# C0 controls other than whitespace, DEL and C1 controls: real text has next to none, random
# bytes decoded as windows-1252 about 11 %.
_CONTROL = re.compile("[\x00-\x08\x0b\x0e-\x1f\x7f-\x9f]")
# The same set within ASCII, for bytes.translate: a C loop, where the regex is a scan in sre.
_ASCII_CONTROL = bytes([*range(0x09), 0x0B, *range(0x0E, 0x20), 0x7F])
_SAMPLE = 32 * 1024
MAX_CONTROL = 0.01
MAX_UNREADABLE = 0.10  # controls and U+FFFD together: random bytes as UTF-8 are mostly U+FFFD


def not_text(text: str) -> str | None:
    """Why decoded ``text`` is not a text document (binary content), or None when it is."""
    sample = text[:_SAMPLE]
    if not sample:
        return None
    if "\x00" in sample:
        return "binary content (NUL bytes), not a text page"
    if sample.isascii():  # most pages: no U+FFFD, and a control is one byte
        data = sample.encode("ascii")
        controls = unreadable = len(data) - len(data.translate(None, _ASCII_CONTROL))
    else:
        controls = len(_CONTROL.findall(sample))
        unreadable = controls + sample.count("\ufffd")
    if controls > MAX_CONTROL * len(sample) or unreadable > MAX_UNREADABLE * len(sample):
        share = 100 * unreadable / len(sample)
        return f"binary content ({share:.0f}% control or undecodable characters), not a text page"
    return None
