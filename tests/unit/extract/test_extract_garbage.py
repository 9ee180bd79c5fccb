"""Hostile or broken input never crashes extract() and never yields a price <= 0."""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from pricewatch.extract import extract
from pricewatch.models import ExtractSpec

AUTO = ExtractSpec()


def test_empty_and_whitespace() -> None:
    """Empty pages give no price and an error, not an exception."""
    for text in ("", "   \n", "\x00\x00"):
        r = extract(text, url="https://x.com", spec=AUTO)
        assert r.price is None
        assert r.error


def test_binary_bytes_decoded_as_text() -> None:
    """Binary junk (a PNG decoded as latin-1) is survived."""
    junk = bytes(range(256)).decode("latin-1") * 50
    assert extract(junk, url="https://x.com", spec=AUTO).price is None


def test_xml_declaration_on_str_input() -> None:
    """An XML encoding declaration on already-decoded text does not stop parsing."""
    page = (
        '<?xml version="1.0" encoding="utf-8"?><html><body><h1>X</h1>'
        '<span class="price">$3.00</span></body></html>'
    )
    assert str(extract(page, url="https://x.com", spec=AUTO).price) == "3.00"


def test_twenty_megabyte_page() -> None:
    """A 20 MB page is read to its end: the heading and price after 1.2 million paragraphs are
    found, so no MemoryError (or a too-eager nesting guard) was turned into a failed
    extraction."""
    page = ("<html><body>" + "<p>lorem ipsum</p>" * 1_200_000
            + '<h1>Big</h1><span class="price">$9.99</span></body></html>')
    r = extract(page, url="https://x.com", spec=AUTO)
    assert r.error is None
    assert r.price == Decimal("9.99")
    assert r.title == "Big"


def test_deep_nesting() -> None:
    """5000 elements above the price and 5000 inside it (five times Python's recursion limit)
    still give the price: every tree walk is iterative, so no RecursionError was swallowed."""
    page = ("<div>" * 5000 + "<h1>Deep</h1>" + '<span class="price">' + "<b>" * 5000 + "$9.99"
            + "</b>" * 5000 + "</span>" + "</div>" * 5000)
    r = extract(page, url="https://x.com", spec=AUTO)
    assert r.error is None
    assert r.price == Decimal("9.99")
    assert r.currency == "USD"


def test_jsonld_that_is_not_json() -> None:
    """A JSON-LD block holding garbage is skipped and the page still read."""
    page = (
        '<html><head><script type="application/ld+json">{"@type": Product, oops'
        '</script></head><body><h1>X</h1><span class="price">€ 4,20</span></body></html>'
    )
    assert str(extract(page, url="https://x.de", spec=AUTO).price) == "4.20"


def test_call_for_price() -> None:
    """'Call for price' yields no price and an error."""
    page = '<html><body><h1>X</h1><span class="price">Call for price</span></body></html>'
    r = extract(page, url="https://x.com", spec=AUTO)
    assert r.price is None
    assert r.error


@settings(max_examples=150, deadline=None)
@given(
    st.text(
        alphabet=st.sampled_from(list("<>/=\"' abcdefpricespanldjson{}[]:,.$€0123456789\x00\n")),
        max_size=400,
    )
)
def test_fuzz_never_raises(text: str) -> None:
    """Random markup-ish text never raises and never yields a price <= 0."""
    r = extract(text, url="https://x.com", spec=AUTO)
    assert r.price is None or r.price > 0
    assert (r.price is None) == (r.error is not None)
