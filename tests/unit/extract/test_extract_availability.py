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


def test_sold_out_add_to_cart_is_out_of_stock() -> None:
    """A buy button that says or is classed "sold out" means the item cannot be ordered."""
    page = (
        '<html><body><h1>X</h1><span class="price">$5.00</span>'
        '<button class="add-to-cart sold-out" disabled>Add to cart</button></body></html>'
    )
    assert extract(page, url="https://x.com", spec=ExtractSpec()).in_stock is False
    says = page.replace('sold-out" disabled>Add to cart', '" disabled>Sold out')
    assert extract(says, url="https://x.com", spec=ExtractSpec()).in_stock is False


def test_merely_disabled_add_to_cart_does_not_outweigh_a_price() -> None:
    """Shops disable "add to cart" until a size is chosen: with a price shown and nothing
    that says sold out the item is in stock; without a price the disabled button decides."""
    page = (
        '<html><body><h1>X</h1><span class="price">$5.00</span>'
        '<button class="add-to-cart" disabled>Add to cart</button></body></html>'
    )
    assert extract(page, url="https://x.com", spec=ExtractSpec()).in_stock is True
    no_price = page.replace('<span class="price">$5.00</span>', "")
    assert extract(no_price, url="https://x.com", spec=ExtractSpec()).in_stock is False


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


@pytest.mark.parametrize(("label", "cart", "expected"), [
    ("Není skladem", "Do košíku", False),
    ("Skladem", "Do košíku", True),
    ("品切れ", "カートに入れる", False),
    ("在庫あり", "カートに入れる", True),
    ("품절", "장바구니", False),
    ("Elfogyott", "Kosárba", False),
    ("Stoc epuizat", "Adaugă în coș", False),
    ("缺貨", "加入購物車", False),
])
def test_stock_labels_in_cjk_and_cee_languages(label: str, cart: str, expected: bool) -> None:
    """Czech, Japanese, Korean, Hungarian, Romanian and Chinese stock labels are read."""
    page = (f'<html><body><h1>X</h1><span class="price">100</span>'
            f'<p class="stock">{label}</p><button>{cart}</button></body></html>')
    assert extract(page, url="https://x.example", spec=ExtractSpec()).in_stock is expected
