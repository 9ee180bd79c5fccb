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


def test_class_words_not_substrings() -> None:
    """Labels are read as words: a "celwidget" is no widget, an add-to-cart form is the buy
    box, and a grid layout column is no product grid."""
    page = (
        '<html><body><h1>Kettle</h1><div class="a-fixed-right-grid-col">'
        '<div class="celwidget" id="buybox"><form id="addToCart">'
        '<span class="a-color-price" id="priceblock_ourprice">$87.11</span>'
        "</form></div></div>"
        '<div class="mini-cart"><span class="price">$5.00</span></div></body></html>'
    )
    r = extract(page, url="https://x.com", spec=AUTO)
    assert (r.price, r.extractor) == (Decimal("87.11"), "heuristic")


def test_bold_price_is_not_an_old_price() -> None:
    """"a-text-bold" holds the letters of "old" but is no list-price label."""
    page = (
        '<html><body><h1>Rug</h1><span class="price a-text-bold">$20.00</span>'
        '<span class="old-price">$30.00</span></body></html>'
    )
    assert extract(page, url="https://x.com", spec=AUTO).price == Decimal("20.00")


def test_hidden_prices_are_ignored() -> None:
    """Prices hidden by class, attribute or inline style are templates, not the shown price;
    responsive classes ("hidden-xs") and backface-visibility do not hide."""
    page = (
        '<html><body><h1>Spice rub</h1>'
        '<span class="tiered-price aok-hidden">$7.08</span>'
        '<span class="price" style="display: none">$6.00</span>'
        '<div hidden><span class="price">$5.00</span></div>'
        '<div style="-webkit-backface-visibility: hidden">'
        '<span class="price hidden-xs">$8.33</span></div></body></html>'
    )
    assert extract(page, url="https://x.com", spec=AUTO).price == Decimal("8.33")


def test_product_heading_is_the_one_the_title_repeats() -> None:
    """With several <h1>, distance is measured from the one the page <title> repeats, so a
    price near a promotion heading does not win."""
    filler = "".join(f"<p>line {i}</p>" for i in range(500))
    page = (
        "<html><head><title>Dog car seat Happy Ride: Shop</title></head><body>"
        "<h1>Free trial of our club</h1>"
        '<span class="offer-price">$65.27</span>'
        f"{filler}<h1>Dog car seat Happy Ride</h1>"
        '<span class="deal-price">$66.75</span></body></html>'
    )
    r = extract(page, url="https://x.com", spec=AUTO)
    assert (r.price, r.title) == (Decimal("66.75"), "Dog car seat Happy Ride")


def test_now_text_marks_the_current_price() -> None:
    """"Now $52.00" beats a neighbouring unlabelled $64.95 of equal standing."""
    page = (
        '<html><body><h1>Leggings</h1><h5 class="product-price--markdown">$64.95</h5>'
        '<h5 class="product-price">Now $52.00</h5></body></html>'
    )
    assert extract(page, url="https://x.com", spec=AUTO).price == Decimal("52.00")


def test_cart_zone_holding_the_product_heading_is_the_product() -> None:
    """A shop that wraps the whole item in a "cart" block still shows its own price there."""
    page = (
        '<html><body><div id="shop-cart"><h1>Fragrance</h1>'
        '<span class="price">$32.50</span></div></body></html>'
    )
    assert extract(page, url="https://x.com", spec=AUTO).price == Decimal("32.50")
