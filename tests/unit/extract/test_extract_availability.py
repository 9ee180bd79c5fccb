"""Availability: schema.org values, visible phrases, add-to-cart controls."""

from __future__ import annotations

import pytest

from pricewatch.extract import extract
from pricewatch.extract.availability import schema_availability
from pricewatch.models import ExtractSpec


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("https://schema.org/InStock", True),
        ("http://schema.org/OutOfStock", False),
        ("SoldOut", False),
        ("schema:PreOrder", True),
        ("BackOrder", True),
        ("Discontinued", False),
        ("LimitedAvailability", True),
        ("InStoreOnly", True),
        ("OnlineOnly", True),
        ("PreSale", True),
        ("Reserved", False),
        ("nonsense", None),
    ],
)
def test_schema_values(value: str, expected: bool | None) -> None:
    """Every schema.org availability, as URL, prefixed or bare name, maps to three states."""
    assert schema_availability(value) is expected


@pytest.mark.parametrize(
    "phrase",
    [
        "Out of stock",
        "Ausverkauft",
        "Rupture de stock",
        "Agotado",
        "Esaurito",
        "Uitverkocht",
        "Esgotado",
        "Brak w magazynie",
        "Slutsåld",
    ],
)
def test_visible_out_of_stock_phrases(phrase: str) -> None:
    """A stock label in a major shop language saying 'sold out' reads as not in stock."""
    page = (
        f'<html><body><h1>X</h1><span class="price">$5.00</span>'
        f'<p class="stock-status">{phrase}</p></body></html>'
    )
    assert extract(page, url="https://x.com", spec=ExtractSpec()).in_stock is False


def test_disabled_add_to_cart_is_out_of_stock() -> None:
    """A disabled add-to-cart button means the item cannot be ordered."""
    page = (
        '<html><body><h1>X</h1><span class="price">$5.00</span>'
        '<button class="add-to-cart" disabled>Add to cart</button></body></html>'
    )
    assert extract(page, url="https://x.com", spec=ExtractSpec()).in_stock is False


def test_hidden_sold_out_template_is_ignored() -> None:
    """A hidden 'sold out' template does not override the visible buy button."""
    page = (
        '<html><body><h1>X</h1><span class="price">$5.00</span>'
        '<div style="display:none"><p class="stock">Sold out</p></div>'
        '<button class="add-to-cart">Add to cart</button></body></html>'
    )
    assert extract(page, url="https://x.com", spec=ExtractSpec()).in_stock is True


def test_no_price_no_assumption() -> None:
    """Without a price and without signals availability stays unknown."""
    assert extract("<html><body>hi</body></html>", url="", spec=ExtractSpec()).in_stock is None
