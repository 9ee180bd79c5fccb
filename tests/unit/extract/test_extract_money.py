"""Price text to Decimal and ISO currency, with separators decided by page hints."""

from __future__ import annotations

from decimal import Decimal

import pytest

from pricewatch.extract import parse_price


@pytest.mark.parametrize(
    ("text", "kwargs", "expected"),
    [
        ("1.226 EUR", {"locale": "de_DE"}, (Decimal("1226"), "EUR")),
        ("$24.990", {"url": "https://www.tienda.cl/p/1"}, (Decimal("24990"), "CLP")),
        ("1 234,56 €", {"locale": "fr_FR"}, (Decimal("1234.56"), "EUR")),
        ("£1,299.00", {}, (Decimal("1299.00"), "GBP")),
        ("3.350", {"currency_hint": "CLP"}, (Decimal("3350"), "CLP")),
        ("1,226", {"locale": "de_DE", "currency_hint": "EUR"}, (Decimal("1.226"), "EUR")),
        ("1,226", {"url": "https://shop.com"}, (Decimal("1226"), None)),
        ("12,99 €", {}, (Decimal("12.99"), "EUR")),
        ("R$ 1.299,90", {}, (Decimal("1299.90"), "BRL")),
        ("$ 19.99", {"url": "https://shop.com.au/x"}, (Decimal("19.99"), "AUD")),
        ("199 kr", {"url": "https://butik.se/x"}, (Decimal("199"), "SEK")),
        ("CHF 1'299.00", {}, (Decimal("1299.00"), "CHF")),
    ],
)
def test_parse_price_locale_cases(
    text: str, kwargs: dict[str, str], expected: tuple[Decimal, str | None]
) -> None:
    """Each price text parses to the amount and ISO code its locale/currency/TLD implies."""
    assert parse_price(text, **kwargs) == expected


@pytest.mark.parametrize("text", ["", "Call for price", "0,00 €", "free", "-"])
def test_no_price(text: str) -> None:
    """Texts without a positive amount give no price."""
    assert parse_price(text)[0] is None
