"""Sitemap parsing: urlsets, indexes, plain text, and refusal of what a sitemap never
needs (DTDs, entities)."""

from __future__ import annotations

import gzip
import tracemalloc

import pytest

from pricewatch.discover import sitemaps
from pricewatch.fetch.request import _TooLarge, gunzip_capped

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def test_urlset_and_index() -> None:
    """A urlset lists pages, an index lists sitemaps; whitespace around <loc> is dropped."""
    urlset = sitemaps.parse(f'<?xml version="1.0" encoding="ISO-8859-1"?><urlset {NS}>'
                            "<url><loc> https://s.example/p/1 </loc><lastmod>2026</lastmod>"
                            "</url><url><loc>https://s.example/p/2</loc></url></urlset>")
    assert not urlset.index
    assert urlset.urls == ("https://s.example/p/1", "https://s.example/p/2")
    index = sitemaps.parse(f"<sitemapindex {NS}><sitemap><loc>https://s.example/a.xml.gz"
                           "</loc></sitemap></sitemapindex>")
    assert index.index
    assert index.urls == ("https://s.example/a.xml.gz",)


def test_plain_text_sitemap() -> None:
    """The protocol's text form, one URL per line, is read too."""
    assert sitemaps.parse("https://s.example/p/1\n\nhttps://s.example/p/2\n").urls == (
        "https://s.example/p/1", "https://s.example/p/2")


def test_entries_are_capped_at_the_protocols_limit() -> None:
    """A file with more entries than the protocol allows is cut there, and says so."""
    body = "".join(f"<url><loc>https://s.example/p/{i}</loc></url>"
                   for i in range(sitemaps.MAX_ENTRIES + 10))
    found = sitemaps.parse(f"<urlset {NS}>{body}</urlset>")
    assert len(found.urls) == sitemaps.MAX_ENTRIES
    assert found.truncated


@pytest.mark.parametrize("text", [
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;">]>'
    f"<urlset {NS}><url><loc>&lol2;</loc></url></urlset>",
    '<?xml version="1.0"?><!DOCTYPE u [<!ENTITY x SYSTEM "file:///etc/passwd">]>'
    f"<urlset {NS}><url><loc>&x;</loc></url></urlset>",
    "<html><body>not a sitemap</body></html>",
    f"<urlset {NS}><url><loc>https://s.example/</loc>",
    "just some words",
])
def test_what_is_no_sitemap_is_refused(text: str) -> None:
    """Entity bombs, external entities, HTML, truncated XML and prose are SitemapErrors."""
    with pytest.raises(sitemaps.SitemapError):
        sitemaps.parse(text)


def test_gzip_bomb_stops_at_the_cap() -> None:
    """A gzipped sitemap inflating past the cap is refused without inflating it all: the
    memory it costs is about the cap, not the 50 MB it would inflate to."""
    cap = 1024 * 1024
    bomb = gzip.compress(b"<" * (50 * 1024 * 1024))
    tracemalloc.start()
    try:
        with pytest.raises(_TooLarge):
            gunzip_capped(bomb, cap)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 4 * cap
    assert gunzip_capped(gzip.compress(b"<urlset/>"), 1024) == b"<urlset/>"
