"""Precision first: amounts that are not the item's price are left out by their labels, and a
page whose visible prices do not settle the question gives no price with its candidates."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from pricewatch.extract import explain, extract
from pricewatch.extract.labels import other_money
from pricewatch.extract.resolve import Tuning, resolve
from pricewatch.models import ExtractSpec

PAGES = Path(__file__).resolve().parents[2] / "fixtures" / "pages"
AUTO = ExtractSpec()


def page(name: str) -> str:
    return (PAGES / name).read_text(encoding="utf-8")


def test_ambiguous_page_gives_no_price_with_its_candidates() -> None:
    """Two equally placed prices in the buy box: no price, detail "ambiguous", both listed."""
    report = explain(page("ambiguous.html"), url="https://shop.example.com/p/1", spec=AUTO)
    result = report.result
    assert result.price is None
    assert result.detail == "ambiguous"
    assert result.error is not None
    assert result.error.startswith("ambiguous")
    assert {c.price for c in report.rivals} == {Decimal("45.00"), Decimal("39.00")}
    assert result.evidence is not None
    assert "45.00" in result.evidence
    assert "39.00" in result.evidence


def test_a_clear_margin_is_not_ambiguous() -> None:
    """With a zero margin the same page resolves: the margin is what holds the guess back."""
    report = explain(page("ambiguous.html"), url="https://shop.example.com/p/1", spec=AUTO)
    verdict = resolve(list(report.candidates), Tuning(margin=0.0))
    assert verdict.winner is not None


def test_per_unit_price_is_excluded() -> None:
    """"17,98 € / kg" and a "Grundpreis" amount are prices per kilo, not the item's."""
    r = extract(page("per-unit.html"), url="https://shop.example.de/p/1", spec=AUTO)
    assert (r.price, r.currency) == (Decimal("8.99"), "EUR")


def test_instalments_are_excluded() -> None:
    """Polish "rata"/"rat ... miesięcznie" and an installment box are monthly amounts."""
    r = extract(page("instalment.html"), url="https://sklep.example.pl/p/1", spec=AUTO)
    assert (r.price, r.currency) == (Decimal("2999.00"), "PLN")


def test_coupons_are_excluded() -> None:
    """A クーポン (coupon) amount next to the price is not the price."""
    r = extract(page("coupon.html"), url="https://shop.example.jp/p/1", spec=AUTO)
    assert (r.price, r.currency) == (Decimal("3980"), "JPY")


def test_you_save_is_excluded() -> None:
    """Czech "Ušetříte" and English "You save" amounts are discounts, not prices."""
    r = extract(page("you-save.html"), url="https://obchod.example.cz/p/1", spec=AUTO)
    assert (r.price, r.currency) == (Decimal("1990"), "CZK")


def test_neighbouring_products_are_excluded() -> None:
    """Prices inside other products' links, outside the main block, never compete."""
    report = explain(page("neighbour.html"), url="https://shop.example.com/p/1", spec=AUTO)
    assert report.result.price == Decimal("149.00")
    assert {c.price for c in report.candidates} == {Decimal("149.00")}


def test_microdata_list_price_loses_to_a_lower_current_price() -> None:
    """Microdata says 120 (shown, not called current); the page sells at "Now $84.00"."""
    r = extract(page("microdata-list.html"), url="https://shop.example.com/p/1", spec=AUTO)
    assert (r.price, r.extractor) == (Decimal("84.00"), "heuristic")


def test_product_image_is_absolute() -> None:
    """og:image's relative path is made absolute against the page's URL."""
    r = extract(page("microdata-list.html"), url="https://shop.example.com/p/1", spec=AUTO)
    assert r.image == "https://shop.example.com/img/jacket.jpg"


def test_image_from_jsonld_and_never_a_data_uri() -> None:
    """JSON-LD image wins; a data: or javascript: URL is never reported as an image."""
    ld = ('<script type="application/ld+json">{"@type": "Product", "name": "Mug", '
          '"image": [{"@type": "ImageObject", "url": "//cdn.example.com/mug.png"}], '
          '"offers": {"price": "12.00", "priceCurrency": "EUR"}}</script>')
    r = extract(f"<html><head>{ld}</head><body><h1>Mug</h1></body></html>",
                url="https://shop.example.com/mug", spec=AUTO)
    assert r.image == "https://cdn.example.com/mug.png"
    bad = ('<html><head><meta property="og:image" content="javascript:alert(1)"></head>'
           '<body><h1>Mug</h1><img src="data:image/png;base64,AAAA"></body></html>')
    assert extract(bad, url="https://shop.example.com/mug", spec=AUTO).image is None


@pytest.mark.parametrize(("before", "after", "kind"), [
    ("", " € / kg)", "per unit"),
    ("Cena za kg ", "", "per unit"),
    ("", "円/100g", "per unit"),
    ("4 interest-free payments of ", "", "instalment"),
    ("", " x 12 cuotas", "instalment"),
    ("részletben havonta ", "", "instalment"),
    ("", " lei/lună", "instalment"),
    ("分期 ", "", "instalment"),
    ("쿠폰 ", "", "coupon"),
    ("优惠券 ", "", "coupon"),
    ("Megtakarítás: ", "", "you save"),
    ("Economisești ", "", "you save"),
    ("", " off", "you save"),
    ("Szállítás: ", "", "shipping"),
    ("送料 ", "", "shipping"),
    ("Subscribe & Save ", "", "subscription"),
    ("-", "", "discount"),
])
def test_other_money_labels(before: str, after: str, kind: str) -> None:
    """Each language's label for other money is read before or after the amount."""
    assert other_money(before, after) == kind


@pytest.mark.parametrize(("before", "after"), [
    ("Now ", ""), ("", " each"), ("", "€ inkl. MwSt."), ("Title - $", ""), ("", "円 (税込)"),
    ("Body Lotion ", ""), ("", " (1個あたり 30円)"),
])
def test_price_labels_are_not_other_money(before: str, after: str) -> None:
    """Ordinary price wording (tax notes, "each", a title before a dash) is not excluded."""
    assert other_money(before, after) is None


@pytest.mark.parametrize(("before", "after", "following", "kind"), [
    # The words after an earlier number name that number, not the next one.
    ("As low as $37 a month. Details » USD $ ", "", "", None),
    ("From 12,50 €/kg: ", "", "", None),
    ("Only 4 payments of ", "", "", "instalment"),
    # The next element names this amount only when it reads as its unit or period.
    ("", " Lei", "Rate lunare de la 14 44 Lei", None),
    ("", " €", "/ kg", "per unit"),
    ("", "", "a month", "instalment"),
])
def test_labels_belong_to_their_own_number(
    before: str, after: str, following: str, kind: str | None
) -> None:
    """A label is read for the amount it names: "$37 a month" does not make the $410 after
    it a monthly amount, and "Rate lunare" before the next amount does not name this one."""
    assert other_money(before, after, following) == kind


def test_a_label_repeated_with_many_amounts_is_a_list() -> None:
    """Three "combo-price" amounts are a list of other offers; the unique one is the item's."""
    combos = "".join(f'<li class="combo-price">${p}</li>' for p in ("5.95", "34.99", "19.99"))
    html = ('<html><body><h1>Router</h1><div class="main"><span class="product-price">$99.00'
            f'</span></div><ul>{combos}</ul></body></html>')
    report = explain(html, url="https://shop.example.com/p/1", spec=AUTO)
    assert report.result.price == Decimal("99.00")
    assert all(("repeated", 1.0) in c.cues for c in report.candidates if c.price != 99)


def test_a_price_drawn_in_parts_is_not_read_as_one_big_number() -> None:
    """"$ 31 57" around price-labelled "31" and "57" is never 3157; cents drawn in a part
    named for them, or in a superscript, are read as cents; bare "271 99" is no price."""
    html = ('<html><body><h1>Drill</h1><div class="buybox-price">$ <span class="price-dollars">'
            '31</span> <span class="price-cents">57</span></div></body></html>')
    assert extract(html, url="https://shop.example.com/p/1", spec=AUTO).price == Decimal("31.57")
    one = ('<html><body><h1>Drill</h1><p class="product-new-price">271<sup>99</sup> Lei</p>'
           "</body></html>")
    assert extract(one, url="https://shop.example.ro/p/1", spec=AUTO).price == Decimal("271.99")
    bare = ('<html><body><h1>Drill</h1><p class="product-new-price">271 <b>99</b> Lei</p>'
            "</body></html>")
    assert extract(bare, url="https://shop.example.ro/p/1", spec=AUTO).price is None


def test_standard_price_is_a_list_price() -> None:
    """A "price-standard" next to a "price-sales" is the regular price, not a rival."""
    html = ('<html><body><h1>Fleece</h1><span class="price-standard">39.90</span>'
            '<span class="price-sales">19.90</span></body></html>')
    assert extract(html, url="https://shop.example.com/p/1", spec=AUTO).price == Decimal("19.90")


def test_unlabelled_price_below_the_heading_is_read() -> None:
    """A shop without "price" in its class names: the money text under the heading is read,
    and the free-shipping threshold next to it is not."""
    url = "https://shop.example.com.tw/p/1"
    r = extract(page("unlabelled.html"), url=url, spec=AUTO)
    assert (r.price, r.currency) == (Decimal("1290"), "TWD")
    # With a price-labelled element elsewhere that says nothing clear, the text under the
    # heading is still read.
    far = page("unlabelled.html").replace(
        "</body>", '<div class="sidebar"><span class="price">NT$99</span></div></body>')
    assert extract(far, url=url, spec=AUTO).price == Decimal("1290")


def test_a_wrapper_around_a_struck_price_is_a_list_price() -> None:
    """"<span class=price-info><span class=price-strike>$979.97</span></span>" is the list
    price, however its wrapper is named; the current price beside it wins."""
    html = ('<html><body><h1>Laptop</h1><div class="price-box"><span class="price-info">'
            '<span class="price-strike">$979.97</span></span>'
            '<span class="price-amount">$809.97</span></div></body></html>')
    assert extract(html, url="https://shop.example.com/p/1", spec=AUTO).price == Decimal("809.97")


def test_parts_of_a_price_drawn_in_pieces_are_not_prices() -> None:
    """"price__dollars" 31 and "price__cents" 57 are pieces of $31.57, not rivals of it."""
    html = ('<html><body><h1>Paint</h1><div class="buybox"><input class="item-price" '
            'value="31.57"><span class="price__dollars">31</span>'
            '<span class="price__cents">57</span></div></body></html>')
    report = explain(html, url="https://shop.example.com/p/1", spec=AUTO)
    assert report.result.price == Decimal("31.57")
    assert {c.price for c in report.candidates} == {Decimal("31.57")}
