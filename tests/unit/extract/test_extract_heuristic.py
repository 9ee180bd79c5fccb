"""Visible-page heuristics: sale vs list, shipping thresholds, carousels."""

from __future__ import annotations

from decimal import Decimal

from pricewatch.extract import extract
from pricewatch.models import ExtractSpec

AUTO = ExtractSpec()


def test_sale_price_beats_struck_list_price() -> None:
    """A struck-through 'was' price is a list price; the current price wins."""
    page = (
        '<html><body><h1>Lamp</h1><div class="price-box">'
        '<span class="old-price"><s>$59.00</s></span>'
        '<span class="special-price">$45.00</span></div></body></html>'
    )
    r = extract(page, url="https://x.com", spec=AUTO)
    assert (r.price, r.extractor) == (Decimal("45.00"), "heuristic")


def test_free_shipping_threshold_never_wins() -> None:
    """'Free shipping over $50' is never taken as the product's price."""
    page = (
        '<html><body><div class="promo-price">Free shipping on orders over $50</div>'
        '<h1>Mug</h1><span class="price">$12.00</span></body></html>'
    )
    assert extract(page, url="https://x.com", spec=AUTO).price == Decimal("12.00")
    only_threshold = (
        "<html><body><h1>Mug</h1>"
        '<div class="shipping-price">Free shipping over $50</div></body></html>'
    )
    assert extract(only_threshold, url="https://x.com", spec=AUTO).price != Decimal("50")


def test_related_products_are_ignored() -> None:
    """Prices inside a related-products carousel do not compete with the main price."""
    page = (
        '<html><body><h1>Chair</h1><span class="price">€ 149,00</span>'
        '<div class="related-products"><span class="price">€ 9,99</span></div></body></html>'
    )
    r = extract(page, url="https://x.nl", spec=AUTO)
    assert (r.price, r.currency) == (Decimal("149.00"), "EUR")


def test_locale_from_html_lang_decides_separator() -> None:
    """<html lang=de> makes '1.226 €' read as 1226, not 1.226."""
    page = '<html lang="de"><body><h1>TV</h1><span class="price">1.226 €</span></body></html>'
    assert extract(page, url="https://x.com", spec=AUTO).price == Decimal("1226")


def test_no_price_has_error() -> None:
    """A page without any price reports no price and says why."""
    r = extract("<html><body><h1>About us</h1></body></html>", url="https://x.com", spec=AUTO)
    assert r.price is None
    assert r.error
