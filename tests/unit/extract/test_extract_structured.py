"""Structured-data extractors: JSON-LD, microdata, RDFa, OpenGraph, with variant pinning."""

from __future__ import annotations

from decimal import Decimal

from pricewatch.extract import explain, extract
from pricewatch.models import ExtractSpec

AUTO = ExtractSpec()


def _page(head: str, body: str = "") -> str:
    return f"<html><head>{head}</head><body><h1>Thing</h1>{body}</body></html>"


def _ld(payload: str) -> str:
    return f'<script type="application/ld+json">{payload}</script>'


def test_jsonld_product_offer() -> None:
    """A JSON-LD Product's offer gives price, currency and availability."""
    page = _page(
        _ld(
            '{"@type":"Product","name":"Thing","offers":{"@type":"Offer",'
            '"price":"19.99","priceCurrency":"EUR",'
            '"availability":"https://schema.org/OutOfStock"}}'
        )
    )
    r = extract(page, url="https://shop.example.de/p", spec=AUTO)
    assert (r.price, r.currency, r.in_stock, r.extractor) == (
        Decimal("19.99"),
        "EUR",
        False,
        "jsonld",
    )


def test_jsonld_tolerates_trailing_commas_entities_and_graph() -> None:
    """Trailing commas, HTML entities and @graph nesting do not hide the offer."""
    payload = (
        '{"@graph":[{"@type":"WebPage"},{"@type":"Product","name":"A &amp; B",'
        '"offers":[{"@type":"Offer","price":42.5,"priceCurrency":"USD",},],},]}'
    )
    r = extract(_page(_ld(payload)), url="https://x.com/p", spec=AUTO)
    assert r.price == Decimal("42.5")


def test_jsonld_aggregate_offer_low_price() -> None:
    """An AggregateOffer without a price yields its lowPrice, flagged as a 'low' candidate."""
    payload = (
        '{"@type":"Product","name":"T","offers":{"@type":"AggregateOffer",'
        '"lowPrice":"10.00","highPrice":"20.00","priceCurrency":"GBP"}}'
    )
    report = explain(_page(_ld(payload)), url="https://x.co.uk", spec=AUTO)
    assert report.result.price == Decimal("10.00")
    assert report.candidates[0].role == "low"


VARIANTS = _ld(
    '{"@type":"ProductGroup","name":"Shirt","hasVariant":['
    '{"@type":"Product","name":"Shirt S","sku":"S-1","gtin13":"0012345678905",'
    '"offers":{"@type":"Offer","price":"30.00","priceCurrency":"USD",'
    '"url":"https://x.com/shirt?variant=111"}},'
    '{"@type":"Product","name":"Shirt L","sku":"L-1",'
    '"offers":{"@type":"Offer","price":"25.00","priceCurrency":"USD",'
    '"url":"https://x.com/shirt?variant=222"}}]}'
)


def test_variant_lowest_without_pin() -> None:
    """Without a pin the lowest variant wins and the evidence says so."""
    r = extract(_page(VARIANTS), url="https://x.com/shirt", spec=AUTO)
    assert r.price == Decimal("25.00")
    assert "lowest" in (r.evidence or "")


def test_variant_pinned_by_sku_gtin_and_param() -> None:
    """sku, gtin (leading zeros ignored) and variant_param each select their variant."""
    page = _page(VARIANTS)
    by_sku = extract(page, url="https://x.com/shirt", spec=ExtractSpec(sku="S-1"))
    assert by_sku.price == Decimal("30.00")
    by_gtin = extract(page, url="https://x.com/shirt", spec=ExtractSpec(gtin="12345678905"))
    assert by_gtin.price == Decimal("30.00")
    by_param = extract(
        page, url="https://x.com/shirt?variant=222", spec=ExtractSpec(variant_param="variant")
    )
    assert by_param.price == Decimal("25.00")
    assert "pinned" in (by_param.evidence or "")


def test_microdata_with_currency_and_availability() -> None:
    """itemprop=price content, priceCurrency and availability are read within their scope."""
    body = (
        '<div itemscope itemtype="https://schema.org/Product"><div itemprop="offers" '
        'itemscope itemtype="https://schema.org/Offer">'
        '<meta itemprop="priceCurrency" content="EUR">'
        '<span itemprop="price" content="1226.00">1.226,00 €</span>'
        '<link itemprop="availability" href="https://schema.org/InStock"></div></div>'
    )
    r = extract(_page("", body), url="https://x.de", spec=AUTO)
    assert (r.price, r.currency, r.in_stock, r.extractor) == (
        Decimal("1226.00"),
        "EUR",
        True,
        "microdata",
    )


def test_rdfa_property_price() -> None:
    """RDFa-lite property=price is read like microdata."""
    body = (
        '<div vocab="https://schema.org/" typeof="Product"><div property="offers" '
        'typeof="Offer"><span property="price" content="5.50">5,50</span>'
        '<span property="priceCurrency" content="EUR">€</span></div></div>'
    )
    r = extract(_page("", body), url="https://x.fr", spec=AUTO)
    assert (r.price, r.currency, r.extractor) == (Decimal("5.50"), "EUR", "rdfa")


def test_opengraph_product_price() -> None:
    """product:price:amount with its currency tag is a price candidate."""
    head = (
        '<meta property="product:price:amount" content="24.990">'
        '<meta property="product:price:currency" content="CLP">'
    )
    r = extract(_page(head), url="https://tienda.cl/p", spec=AUTO)
    assert (r.price, r.currency, r.extractor) == (Decimal("24990"), "CLP", "opengraph")


def test_markup_list_price_loses_to_visible_sale_price() -> None:
    """Markup holding the struck-through list price does not beat the shown sale price."""
    head = _ld('{"@type":"Product","name":"T","offers":{"price":"79.99","priceCurrency":"USD"}}')
    body = (
        '<div class="product-price"><del class="price-old">$79.99</del>'
        '<span class="price-sale">$39.99</span></div>'
    )
    r = extract(_page(head, body), url="https://x.com", spec=AUTO)
    assert r.price == Decimal("39.99")


def test_microdata_price_without_its_struck_parts() -> None:
    """An itemprop=price element holding struck "was" pieces and the sale pieces reads as the
    sale price (prices split into "$", "39." and "99" spans included)."""
    page = (
        '<html><body><div itemscope itemtype="http://schema.org/Product"><h1>Dress</h1>'
        '<div itemprop="offers" itemscope itemtype="http://schema.org/Offer">'
        '<span itemprop="price"><span class="strikethrough">$</span>'
        '<span class="strikethrough">79.</span><span class="strikethrough">99</span>'
        '<span class="sale">$</span><span class="sale">39.</span><span>99</span></span>'
        "</div></div></body></html>"
    )
    r = extract(page, url="https://x.com", spec=ExtractSpec())
    assert (r.price, r.extractor) == (Decimal("39.99"), "microdata")


def test_two_microdata_prices_in_one_offer() -> None:
    """One Offer with a "price-standard" and a "price-sales" itemprop=price: the sale one."""
    page = (
        '<html><body><h1>Cardigan</h1><div class="product-price" itemprop="offers" itemscope'
        ' itemtype="http://schema.org/Offer"><meta itemprop="priceCurrency" content="USD">'
        '<span class="price-standard pdp-price" itemprop="price">39.90</span>'
        '<span class="price-sales pdp-price" itemprop="price">1.90</span></div></body></html>'
    )
    assert extract(page, url="https://x.com", spec=ExtractSpec()).price == Decimal("1.90")


def test_unconfirmed_opengraph_price_loses_to_a_strong_visible_price() -> None:
    """og:price:amount 26.50 (a template's "from" price) that the page never shows loses to
    the sale price shown next to the product heading."""
    page = (
        '<html><head><meta property="og:price:amount" content="26.5000">'
        '<meta property="og:price:currency" content="USD"></head><body><h1>Witch Hazel</h1>'
        '<p class="old-price">Price: $119.00</p><p class="special-price">Price: $94.00</p>'
        "</body></html>"
    )
    r = extract(page, url="https://x.com", spec=ExtractSpec())
    assert (r.price, r.extractor) == (Decimal("94.00"), "heuristic")
