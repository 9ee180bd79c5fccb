"""Numbers that are not prices never become one: a sign or an exponent that price-parser
drops, a value past the checks column, and digits read out of binary junk."""

from __future__ import annotations

import json
import random
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from pricewatch.extract import extract
from pricewatch.extract.money import parse_price
from pricewatch.fetch.decode import decode, not_text
from pricewatch.models import Check, ExtractSpec, Outcome

AUTO = ExtractSpec()
URL = "https://shop.example/p"


@pytest.mark.parametrize("text", ["$-5.00", "-5", "-$5", "USD -5", "\u2212 5 \u20ac",
                                  "$1e308", "1e308", "1E+308", "1.5e3 EUR", "0.0000001",
                                  "100000000000000", "$123456789012345.00"])
def test_price_texts_that_are_no_price(text: str) -> None:
    """A negative, exponent or out-of-range amount parses as no price, never as 5 or 1."""
    assert parse_price(text)[0] is None


@pytest.mark.parametrize(("text", "amount"), [("$19.99", "19.99"), ("10 - 20", "10"),
                                              ("$10-$20", "10"), ("1.226 EUR", "1226"),
                                              ("99999999999999.99", "99999999999999.99")])
def test_ordinary_prices_still_parse(text: str, amount: str) -> None:
    """Ranges and large-but-valid prices are unaffected."""
    assert parse_price(text)[0] == Decimal(amount)


def _jsonld(price: object) -> str:
    data = {"@context": "https://schema.org", "@type": "Product", "name": "Kettle",
            "offers": {"@type": "Offer", "price": price, "priceCurrency": "USD"}}
    return (f'<html><head><script type="application/ld+json">{json.dumps(data)}</script>'
            "</head><body><h1>Kettle</h1></body></html>")


@pytest.mark.parametrize("price", [-5, "-5", 1e308, "1e308", "-19.99", 1e14])
def test_jsonld_price_that_is_no_price(price: object) -> None:
    """JSON-LD -5 or 1e308 gives no price (it gave 5 and 1)."""
    assert extract(_jsonld(price), url=URL, spec=AUTO).price is None


@pytest.mark.parametrize("text", ["$-5.00", "-5", "$1e308"])
def test_visible_price_that_is_no_price(text: str) -> None:
    """A visible `$-5.00` or `$1e308` on a page gives no price."""
    page = f'<html><body><h1>Kettle</h1><span class="price">{text}</span></body></html>'
    assert extract(page, url=URL, spec=AUTO).price is None


@pytest.mark.parametrize("price", [Decimal(0), Decimal(-5), Decimal(10) ** 14,
                                   Decimal("Infinity"), Decimal("NaN")])
def test_ok_check_refuses_impossible_prices(price: Decimal) -> None:
    """The Check invariant refuses an ok price outside 0 < p < 10^14."""
    from datetime import UTC, datetime

    with pytest.raises(ValueError, match="price"):
        Check("p@s", datetime.now(UTC), Outcome.OK, price=price, currency="USD")


def _no_price_from(body: bytes, charset: str | None) -> None:
    text, _ = decode(body, charset)
    if not_text(text) is None:
        assert extract(text, url=URL, spec=AUTO).price is None, (body[:80], text[:80])


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=4000), st.sampled_from([None, "utf-8", "iso-8859-1"]))
def test_binary_never_yields_a_price(body: bytes, charset: str | None) -> None:
    """Whatever bytes arrive, either they are refused as not text or no price is read."""
    _no_price_from(body, charset)


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 2**32), st.integers(512, 30_000),
       st.sampled_from([None, "utf-8", "iso-8859-1"]))
def test_random_bytes_are_refused_as_binary(seed: int, size: int, charset: str | None) -> None:
    """Uniformly random bodies (what a brotli body without its header looks like) are
    refused as not text, so no digit in them can become a price."""
    body = random.Random(seed).randbytes(size)
    text, _ = decode(body, charset)
    assert not_text(text) is not None
