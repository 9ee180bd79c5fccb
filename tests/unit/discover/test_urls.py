"""Canonical URLs, scope, URL patterns and pagination: the visited set's notion of "the
same page"."""

from __future__ import annotations

import pytest

from pricewatch.discover.urls import Scope, canonical, is_pagination, pattern


@pytest.mark.parametrize(("url", "expected"), [
    ("HTTP://Shop.Example:80/p/1#reviews", "http://shop.example/p/1"),
    ("https://shop.example:443", "https://shop.example/"),
    ("https://shop.example:8443/p", "https://shop.example:8443/p"),
    ("https://shop.example/p/1?utm_source=x&utm_medium=y&gclid=1&fbclid=2&msclkid=3",
     "https://shop.example/p/1"),
    ("https://shop.example/p/1?size=m&color=red&_ga=1", "https://shop.example/p/1?color=red&size=m"),
    ("https://shop.example/s?q=caf%C3%A9+cr%C3%A8me&pk_campaign=z",
     "https://shop.example/s?q=caf%C3%A9+cr%C3%A8me"),
    ("https://shop.example/p/1?", "https://shop.example/p/1"),
])
def test_canonical_strips_tracking_and_keeps_variants(url: str, expected: str) -> None:
    """Case, default ports, fragments and tracking parameters go; variant-selecting
    parameters stay (sorted, as written)."""
    assert canonical(url) == expected


@pytest.mark.parametrize("url", [
    "mailto:shop@example.org", "javascript:void(0)", "ftp://example.org/x",
    "https://shop.example/" + "a" * 3000, "http://[::1:bad/", "https://shop.example/a/a/a/a",
])
def test_canonical_refuses_what_is_no_page(url: str) -> None:
    """Other schemes, malformed or over-long URLs and self-repeating paths are never queued."""
    assert canonical(url) is None


def test_scope_is_the_host_unless_same_site() -> None:
    """By default only the start's host is in scope; --same-site admits every host of its
    registrable domain (per the Public Suffix List), never a neighbour under the suffix."""
    host = Scope.of("https://www.shop.co.uk/c", same_site=False)
    site = Scope.of("https://www.shop.co.uk/c", same_site=True)
    assert host.allows("https://www.shop.co.uk/p/1")
    assert not host.allows("https://m.shop.co.uk/p/1")
    assert site.allows("https://m.shop.co.uk/p/1")
    assert site.allows("https://shop.co.uk/")
    assert not site.allows("https://other.co.uk/")
    assert not site.allows("https://evilshop.co.uk/")
    assert host.widened("https://shop.co.uk/").allows("https://shop.co.uk/p")


def test_pattern_generalises_numbers_and_ignores_the_query() -> None:
    """Calendar months and facet combinations of one listing share a pattern; different
    listings do not."""
    assert pattern("https://s.example/calendar/2026/1") == pattern(
        "https://s.example/calendar/2031/12")
    assert pattern("https://s.example/c/kettles?color=red") == pattern(
        "https://s.example/c/kettles?size=m&brand=x")
    assert pattern("https://s.example/c/kettles") != pattern("https://s.example/c/toasters")


@pytest.mark.parametrize(("page", "link", "expected"), [
    ("https://s.example/c/k", "https://s.example/c/k?page=2", True),
    ("https://s.example/c/k?color=red&page=2", "https://s.example/c/k?color=red&page=3", True),
    ("https://s.example/c/k?page=2", "https://s.example/c/k?color=red&page=2", False),
    ("https://s.example/c/k", "https://s.example/c/k/page/2", True),
    ("https://s.example/c/k/page/2", "https://s.example/c/k/page/3", True),
    ("https://s.example/c/k", "https://s.example/p/1", False),
    ("https://s.example/c/k", "https://t.example/c/k?page=2", False),
])
def test_pagination_is_the_same_listing_with_another_page(page: str, link: str,
                                                          expected: bool) -> None:
    """Only a changed page parameter (or /page/N) makes a link the listing's next page."""
    assert is_pagination(page, link) is expected
