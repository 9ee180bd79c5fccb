"""Visible-page rules that hold on shops never seen: each small page shows one situation a
person reads without thinking (an option's cost, a sale shown as two amounts, cents in a
superscript), and the test fails when the rule is taken out."""

from __future__ import annotations

from decimal import Decimal

from pricewatch.extract import explain, extract
from pricewatch.extract.candidates import Candidate
from pricewatch.extract.resolve import resolve
from pricewatch.models import ExtractSpec

AUTO = ExtractSpec()
URL = "https://shop.example.com/p/1"


def page(body: str, head: str = "<title>Felt pen</title>") -> str:
    return f"<html><head>{head}</head><body>{body}</body></html>"


def test_an_option_buttons_cost_is_not_the_price() -> None:
    """"Delivery CHF 7.95" inside a delivery-option button, in the product's own block, is
    what delivery costs; the item's price beside it is the price."""
    html = page(
        '<div class="pdp"><h1>Felt pen</h1>'
        '<button type="button"><div><div><span>Lieferbar</span><span><span>'
        "<span>CHF 7.95</span></span></span></div></div></button>"
        "<div><span>CHF 19.50</span></div>"
        '<button class="add-to-cart">In den Warenkorb</button></div>'
    )
    r = extract(html, url="https://shop.example.ch/p/1", spec=AUTO)
    assert (r.price, r.currency) == (Decimal("19.50"), "CHF")


def test_a_form_named_cart_is_the_buy_form() -> None:
    """WooCommerce-style "form.cart" holds the product's own price, not a mini-cart's."""
    html = page(
        "<h1>Dog fragrance</h1><div>Availability: in stock</div>"
        '<form id="ysw-cart" method="post"><div class="prices">'
        '<span class="sale-price">$32.50</span></div></form>'
    )
    assert extract(html, url=URL, spec=AUTO).price == Decimal("32.50")


def test_a_cart_box_is_a_mini_cart_without_a_buy_button() -> None:
    """A "cart" box with no add-to-cart button in it stays a mini-cart: its amount is the
    cart's total, and the page's own price wins."""
    html = page(
        '<div class="mini-cart"><span class="cart-price">$120.00</span></div>'
        '<h1>Kettle</h1><span class="price">$45.00</span>'
    )
    report = explain(html, url=URL, spec=AUTO)
    assert report.result.price == Decimal("45.00")
    assert Decimal("120.00") not in {c.price for c in report.candidates}


def test_a_widget_is_no_zone() -> None:
    """"widget prod-info-price" is a CMS block holding the product's price, not a sidebar."""
    html = page(
        "<h1>Shower gel dispenser</h1>"
        '<div class="widget prod-info-price"><div class="current-price">'
        '<strong class="sale-price">$8.99</strong></div><del class="old-price">$12.59</del>'
        "<span>Ships in 24 hours from 3 warehouses</span></div>"
    )
    assert extract(html, url=URL, spec=AUTO).price == Decimal("8.99")


def test_money_text_in_an_iso_code_is_read() -> None:
    """A shop with no "price" in its class names and prices written "CHF 19.50"."""
    html = page("<h1>Felt pen</h1><div><span>CHF <!-- -->19.50</span></div>")
    r = extract(html, url="https://shop.example.ch/p/1", spec=AUTO)
    assert (r.price, r.currency) == (Decimal("19.50"), "CHF")


def test_two_amounts_side_by_side_are_a_sale() -> None:
    """"38,15 €  44,95 €  incl. 24% VAT" with nothing naming either: the lower is the
    current price, the higher the former one."""
    html = page(
        "<h1>Belt</h1><div><span class='a1'>38,15 €</span>"
        "<div><span class='a2'>44,95 €</span><span>sis. 24% alv</span></div></div>",
        head='<title>Belt</title><meta charset="utf-8">',
    )
    report = explain(html, url="https://shop.example.fi/p/1", spec=AUTO)
    assert report.result.price == Decimal("38.15")
    higher = next(c for c in report.candidates if c.price == Decimal("44.95"))
    assert higher.role == "list"


def test_a_box_of_two_amounts_is_read_part_by_part() -> None:
    """"<div class=price><div>$410</div><div class=current>$210</div></div>" is never read
    as 410 (its first number): each part is read on its own."""
    html = page(
        "<h1>Pizza voucher</h1><div class='price'><div class='original'>$410</div>"
        "<div class='current'>$210</div></div>"
    )
    report = explain(html, url=URL, spec=AUTO)
    assert report.result.price == Decimal("210")
    assert {c.price for c in report.candidates} == {Decimal("410"), Decimal("210")}


def test_a_hidden_input_is_not_shown() -> None:
    """A hidden form value ("3182.5699999999997") is no visible price nor a rival."""
    html = page(
        "<h1>Swing set</h1><div class='pricetext'>$3,182.57</div>"
        "<input type='hidden' class='pdp_price' value='3182.5699999999997'>"
    )
    report = explain(html, url=URL, spec=AUTO)
    assert report.result.price == Decimal("3182.57")
    assert len({c.price for c in report.candidates}) == 1


def test_a_gap_of_one_cue_is_clear() -> None:
    """0.65 against 0.55 is one cue's weight apart, a clear choice, though 0.65 - 0.55 is
    0.0999... in binary floats."""

    def visible(price: str, confidence: float) -> Candidate:
        return Candidate("heuristic", Decimal(price), "USD", confidence, "x",
                         cues=(("current_label", 1.0),))

    verdict = resolve([visible("10.00", 0.65), visible("12.00", 0.55)])
    assert verdict.winner is not None
    assert verdict.winner.price == Decimal("10.00")


def test_a_review_box_inside_the_product_block_is_not_a_zone() -> None:
    """"productReviewPrice" beside the stars in the product's block holds its price."""
    html = page(
        '<div class="buy"><h1>Coffee maker</h1><div class="productReviewPrice">'
        '<span class="productPrice">$249.95</span><span>(0) 0 Reviews</span></div>'
        '<button class="add-to-cart">Add to Cart</button></div>'
        '<div class="reviews"><span class="price">$19.99</span></div>'
    )
    assert extract(html, url=URL, spec=AUTO).price == Decimal("249.95")


def test_a_currency_sign_in_the_amounts_box_is_its_currency() -> None:
    """"<div>$<span class=stpPrice>13.74</span></div>": the sign beside it is its currency,
    which sets it apart from the other products' amounts."""
    tiles = "".join(f"<div class='plaPrice'>${p}</div>" for p in ("24.99", "9.99", "89.99"))
    html = page(
        f"<div>{tiles}</div><h1>World map</h1>" + "<p>text</p>" * 450
        + "<div class='salePricing'><div>$<span class='stpPrice'>13.74</span></div></div>"
    )
    assert extract(html, url=URL, spec=AUTO).price == Decimal("13.74")


def test_microdata_of_other_products_gives_the_page_no_price() -> None:
    """A page that shows no price for its product, with related products marked up: no
    price, rather than a recommendation's."""
    tile = ('<div itemscope itemtype="https://schema.org/Product"><a href="/p/{0}">'
            '<span itemprop="name">Mug {0}</span></a><div itemprop="offers" itemscope '
            'itemtype="https://schema.org/Offer"><span itemprop="price" content="{0}.00">'
            "${0}.00</span></div></div>")
    html = page(
        "<h1>Teapot</h1><p>Call us for a quote.</p>"
        f'<div class="related-products">{tile.format(12)}{tile.format(15)}</div>'
    )
    assert extract(html, url=URL, spec=AUTO).price is None


def test_the_jsonld_product_the_heading_names_is_the_pages() -> None:
    """Two JSON-LD products, a recommendation first: the one the heading names wins."""
    ld = ('<script type="application/ld+json">[{"@type": "Product", "name": "Red Toaster", '
          '"offers": {"price": "19.99", "priceCurrency": "EUR"}}, {"@type": "Product", '
          '"name": "Blue Kettle 1.7 l", "offers": {"price": "49.00", "priceCurrency": "EUR"}}]'
          "</script>")
    html = page("<h1>Blue Kettle 1.7 l</h1><p>Boils fast.</p>", head=f"<title>x</title>{ld}")
    assert extract(html, url=URL, spec=AUTO).price == Decimal("49.00")


def _stock(body: str) -> bool | None:
    return extract(page(body), url=URL, spec=AUTO).in_stock


def test_a_delivery_options_not_available_leaves_the_item_orderable() -> None:
    """"No disponible" under a home-delivery box is about that way of getting it; the item
    with an enabled buy button is in stock."""
    body = ('<h1>Retro console</h1><span class="price">$24.990</span>'
            '<div class="type-of-shipping"><span class="unavailable">No Disponible</span></div>'
            '<button class="add-to-cart">Añadir al carro</button>')
    assert _stock(body) is True


def test_a_long_row_is_not_a_stock_label() -> None:
    """A row that runs on about sellers and variants is not a label, though it says "Out of
    Stock" somewhere in it."""
    row = ('<tr class="stock-row"><td>Shipping: FREE 4-6 Business Days</td><td>₹949</td>'
           '<td>Tork T15 Prime Basic Mobile with Accessories (Blue and Green)</td>'
           "<td>Out of Stock</td></tr>")
    assert _stock(f'<h1>Tork T15</h1><span class="price">₹949</span><table>{row}</table>') is True


def test_other_sellers_stock_is_not_the_items() -> None:
    """A short "Out of stock" in a price comparison of other sellers says nothing of this one."""
    body = ('<h1>Ceiling fan</h1><span class="price">₹2,433</span><div id="compare-prices">'
            '<span class="stock">Out of stock</span></div>')
    assert _stock(body) is True


def test_an_ambiguous_page_still_shows_a_price_for_availability() -> None:
    """Two prices too close to choose: no price, but the page sells the item (nothing says
    sold out), so availability is True, not unknown."""
    r = extract(page('<h1>Jacket</h1><span class="price">$45.00</span>'
                     '<span class="price">$39.00</span>'), url=URL, spec=AUTO)
    assert r.price is None
    assert r.detail == "ambiguous"
    assert r.in_stock is True
