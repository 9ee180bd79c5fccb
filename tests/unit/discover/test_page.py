"""Which pages discover reports as products when only the visible page says so."""

from __future__ import annotations

from pricewatch.discover.page import read
from pricewatch.discover.urls import Scope

URL = "http://shop.test/product/kettle"

# A plain product page: no structured data and no buy button (so no product block), the
# price in its own box under the heading, related items further down.
PRODUCT = ("<!doctype html><html lang=en><head><title>Kettle - Shop</title></head><body>"
           "<nav><a href='/'>Home</a></nav><h1>Steel Kettle</h1>"
           "<div class=buybox><span class=price>$41.99</span></div>"
           "<h2>Customers also bought</h2><ul>"
           "<li class=related><a href='/product/mug'>Mug</a> <span class=price>$7.00</span></li>"
           "<li class=related><a href='/product/jug'>Jug</a> <span class=price>$9.00</span></li>"
           "</ul></body></html>")

# A listing with one card: the heading names the category; the price sits in a card that
# links to the product.
ONE_CARD = ("<!doctype html><html lang=en><head><title>Kettles - Shop</title></head><body>"
            "<h1>Kettles</h1><div class=card><h2><a href='/product/kettle'>Steel Kettle</a>"
            "</h2><span class=price>$41.99</span></div></body></html>")


def scope() -> Scope:
    return Scope.of(URL, same_site=False)


def test_a_plain_product_page_without_a_buy_button_is_a_product() -> None:
    """The price under the heading, in a box without links, makes the page a product."""
    found = read(PRODUCT, URL, scope()).product
    assert found is not None
    assert str(found.price) == "41.99"


def test_a_one_card_listing_is_not_a_product() -> None:
    """The same price beside a link to the product is a listing's card: followed, not
    reported."""
    reading = read(ONE_CARD, "http://shop.test/c/kettles", scope())
    assert reading.product is None
    assert any(url.endswith("/product/kettle") for url, _ in reading.links)
